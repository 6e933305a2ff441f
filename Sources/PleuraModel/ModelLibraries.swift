/// Where PleuraModel looks for the libtorch shim. The shim is opened lazily with dlopen so that
/// commands without a model never load libtorch (filled by the model issue).
public enum ModelLibraries {
    public static let shimLibraryName = "libPleuraTorchShim.so"
}
