import ArgumentParser
import Foundation
import PleuraCore
import PleuraModel
import PleuraStore

extension VideoAggregation: ExpressibleByArgument {}

/// Options of the commands that compare stored predictions with humans (`stats`, `review`,
/// `report review`): which model cards list training files, whether those answers count, and how
/// clips' frame predictions become video-level answers.
struct ModelAnswerArguments: ParsableArguments {
    @Option(name: .customLong("card"), help: ArgumentHelp(
        "A model (.pt with its .json card beside it) whose card's training.files_sha256 marks predictions on those files \"seen in training\"; repeatable. Default: the embedded model.",
        valueName: "MODEL"))
    var cards: [String] = []

    @Flag(help: "Count predictions on a model's training files in model-versus-human agreement (they are marked either way).")
    var includeTraining = false

    @Option(help: "Video level: how frame predictions are combined: mean (probabilities), max, or expected (severity Σ k·P(k)).")
    var aggregation: VideoAggregation?

    /// Per model SHA-256, the SHA-256s of its training files. Only the cards are read (no
    /// libtorch). The embedded model is skipped quietly when it is not installed; a named card
    /// that cannot be read is an error.
    func trainingFiles() throws -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        if cards.isEmpty {
            guard let url = Model.defaultModelURL, FileManager.default.fileExists(atPath: url.path) else { return [:] }
            let t = try ModelCard.trainingFiles(ofModelAt: url)
            out[t.modelSHA256] = t.files
            return out
        }
        for path in cards {
            let url = try Model.url(forPath: path)
            guard FileManager.default.fileExists(atPath: url.path) else { throw PleuraError(file: path, "no such model file (give the .pt beside its .json card)") }
            let t = try ModelCard.trainingFiles(ofModelAt: url)
            out[t.modelSHA256, default: []].formUnion(t.files)
        }
        return out
    }

    func options(defaultAggregation: VideoAggregation = .mean) throws -> ModelAnswerOptions {
        ModelAnswerOptions(aggregation: aggregation ?? defaultAggregation, trainingFiles: try trainingFiles(), includeTraining: includeTraining)
    }
}
