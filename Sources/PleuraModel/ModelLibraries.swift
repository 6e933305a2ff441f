/// Where PleuraModel looks for the libtorch shim. The shim is opened lazily with dlopen so that
/// commands without a model never load libtorch.
public enum ModelLibraries {
    public static let shimLibraryName = "libPleuraTorchShim.so"

    /// The paths tried, in order (see ``TorchShim``): `$PLEURA_TORCH_SHIM`, beside the executable,
    /// `../lib/`, then the dynamic linker's search path.
    public static var shimCandidatePaths: [String] { TorchShim.candidatePaths() }

    /// Whether libtorch has been loaded into this process (only after a model was used).
    public static var isTorchLoaded: Bool { TorchShim.isLoaded }
}
