import Foundation
import PleuraCore
import PleuraStore

/// How rate mode builds a rater's queue: the reference's class of an item, the per-rater shuffle
/// balanced over classes, and the names items and models go by.
extension RateMode {
    /// For a `reference:NAME` target, the label field that names each map's class, checked
    /// against every model: a one-of-several head whose card says which Pleura label it predicts
    /// (`pleura_labels`), the same field for all models.
    static func referenceField(_ settings: RateSettings, models: [String: RatingModel], file: String) throws
        -> (annotator: String, field: LabelField)? {
        guard case .reference(let who) = settings.target else { return nil }
        var field: LabelField? = nil
        for path in settings.models {
            guard let model = models[path] else { continue }
            let name = "model \(Self.shortModel(path)) head '\(SafeText.sanitize(model.head))'"
            guard !model.isMultilabel else {
                throw PleuraError(file: file, "rate.target reference:…: the \(name) gives independent flags, not one class; "
                                  + "rate a one-of-several head (rate.head), or use a class name as the target")
            }
            guard let labelField = model.labelField else {
                throw PleuraError(file: file, "rate.target reference:…: the card of \(name) does not say which Pleura label it predicts "
                                  + "(pleura_labels); use target = \"predicted\" or a class name")
            }
            guard let f = LabelField(rawValue: labelField), f.finding == nil, f != .note else {
                throw PleuraError(file: file, "rate.target reference:…: the \(name) predicts '\(SafeText.sanitize(labelField))', which is not a "
                                  + "label Pleura records (its one-of-several label is severity): set rate.head = \"severity\", "
                                  + "or use target = \"predicted\" or a class name")
            }
            if let field, field != f {
                throw PleuraError(file: file, "rate.target reference:…: the models' heads predict different labels (\(field.rawValue), \(f.rawValue))")
            }
            field = f
        }
        return field.map { (who, $0) }
    }

    /// The reference's label of one item: the frame's own label, else the video's; for a whole
    /// clip the video's, else (severity) the highest frame score, as the ICLUS video score is the
    /// worst frame's.
    static func referenceLabel(_ byFrame: [Int: LabelSet], field: LabelField, frame: Int?) -> String? {
        if let frame, let v = byFrame[frame]?.value(of: field) { return v.text }
        if let v = byFrame[-1]?.value(of: field) { return v.text }
        guard frame == nil, field == .severity else { return nil }
        return byFrame.values.compactMap(\.severity).max().map { String($0.rawValue) }
    }

    static func shortModel(_ path: String) -> String { path == "embedded" ? path : URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent }

    /// FNV-1a, so a rater's name becomes part of the shuffle seed (stable across runs and machines).
    static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h
    }

    /// Shuffles each class's items and the classes from (seed, rater), then deals them round
    /// robin, so every stretch of the queue mixes the classes.
    static func order(_ items: [Item], seed: UInt64, rater: String) -> [Item] {
        var rng = SplitMix64(seed: seed ^ hash(rater))
        func shuffled<T>(_ a: [T]) -> [T] {
            var out = a
            if out.count > 1 { for i in stride(from: out.count - 1, to: 0, by: -1) { out.swapAt(i, Int(rng.next() % UInt64(i + 1))) } }
            return out
        }
        let classes = shuffled(Array(Set(items.map(\.balanceClass))).sorted())
        var groups = classes.map { c in shuffled(items.filter { $0.balanceClass == c }) }
        var out: [Item] = []
        while out.count < items.count {
            for g in groups.indices where !groups[g].isEmpty { out.append(groups[g].removeFirst()) }
        }
        return out
    }
}
