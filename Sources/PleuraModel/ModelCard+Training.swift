import Foundation
import PleuraCore

extension ModelCard {
    /// The files the model was trained on, as its card lists them (`training.files_sha256`:
    /// [{`path`, `sha256`}]); empty when the card does not say. A prediction on one of these
    /// files is not an independent opinion ("seen in training").
    public var trainingFiles: [(path: String, sha256: String)] {
        guard case .array(let list)? = json["training"]?["files_sha256"] else { return [] }
        return list.compactMap { entry in
            guard let sha = entry["sha256"]?.string?.lowercased(), sha.count == 64 else { return nil }
            return (entry["path"]?.string ?? "", sha)
        }
    }

    /// Reads only the training list of the card beside a model file (`NAME.pt` → `NAME.json`),
    /// without loading the model: commands that compare stored predictions need no libtorch.
    /// Returns the model file's SHA-256 (the id its predictions are stored under) and the set.
    public static func trainingFiles(ofModelAt modelURL: URL) throws -> (modelSHA256: String, files: Set<String>) {
        let card = try ModelCard.read(url: modelURL.deletingPathExtension().appendingPathExtension("json"))
        let sha = try SHA256.hexOfFile(atPath: modelURL.path)
        return (sha, Set(card.trainingFiles.map(\.sha256)))
    }
}
