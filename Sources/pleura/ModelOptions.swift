import ArgumentParser
import Foundation
import PleuraCore
import PleuraModel

/// Options shared by the commands that run the model (`heatmap`, `infer`).
struct ModelOptions: ParsableArguments {
    @Option(help: "TorchScript model (.pt with its .json card beside it). Default: $PLEURA_MODEL, else the embedded Models/pleura-lus-v2.pt.")
    var model: String?

    @Option(help: "libtorch intra-op threads (default: $PLEURA_THREADS, else 1).")
    var threads: Int?

    /// Loads the chosen model; a missing default model is a PleuraError saying what to do.
    func load() throws -> ModelRuntime {
        try Model.load(path: model, threads: threads)
    }
}
