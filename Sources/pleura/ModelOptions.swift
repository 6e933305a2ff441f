import ArgumentParser
import Foundation
import PleuraCore
import PleuraModel

/// Options shared by the commands that run the model (`heatmap`, `infer`).
struct ModelOptions: ParsableArguments {
    @Option(help: "TorchScript model (.pt with its .json card beside it). Default: $PLEURA_MODEL, else the embedded Models/pleura-lus-v1.pt.")
    var model: String?

    @Option(help: "libtorch intra-op threads (default: $PLEURA_THREADS, else 1).")
    var threads: Int?

    /// Loads the chosen model; a missing default model is a PleuraError saying what to do.
    func load() throws -> ModelRuntime {
        let threadCount = threads ?? ProcessInfo.processInfo.environment["PLEURA_THREADS"].flatMap(Int.init) ?? 1
        guard threadCount >= 1 else { throw PleuraError(file: nil, "--threads must be at least 1") }
        let url: URL
        if let model { url = URL(fileURLWithPath: model) } else if let found = Model.defaultModelURL { url = found } else {
            throw PleuraError(file: Model.defaultModelName, "embedded model not found (looked above the executable, "
                              + "in share/pleura/Models and ./Models); pass --model PATH or set PLEURA_MODEL")
        }
        return try ModelRuntime.load(url, threads: threadCount)
    }
}
