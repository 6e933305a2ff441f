import Foundation
import GRDB
import PleuraCore

/// One disagreement a trainee can review: the reference and a model disagree on an item, or two
/// humans do.
public struct ReviewQueueEntry: Sendable, Equatable {
    public enum Kind: String, Sendable { case modelVsReference = "model_vs_reference", humanVsHuman = "human_vs_human" }

    /// One field the two sides answer differently.
    public struct Difference: Sendable, Equatable {
        public var field: ReviewField
        public var first: Int
        public var second: Int
        /// The model's probability of its own answer (model items only).
        public var confidence: Double?
    }

    public var kind: Kind
    public var item: ItemRef
    /// The media path relative to the root the queue was asked with (as exports write it).
    public var media: String
    /// The reference (model items), or the first of the two humans by name.
    public var first: String
    /// The model's SHA-256 (model items), or the second human.
    public var second: String
    public var differences: [Difference]
    /// The model's highest confidence in an answer that differs from the reference's.
    public var confidence: Double?
    /// The severity gap plus one per differing finding.
    public var size: Int
    /// The model was trained on this file (model items only; always false for humans).
    public var seenInTraining: Bool
    /// The model's most probable class (its diagnosis head), for the class filter and the screen.
    public var modelClass: String?
    /// A model item whose confidence is at least ``AnnotationStore/confidentErrorThreshold``.
    public var confidentError: Bool

    public var level: ItemLevel { item.frame == nil ? .video : .frame }
}

/// What a review queue holds and how models are read.
///
/// ```swift
/// let queue = try store.reviewQueue(ReviewQueueOptions(reference: "reference", level: .video,
///                                                      models: ModelAnswerOptions(aggregation: .max)), root: "/data")
/// ```
public struct ReviewQueueOptions: Sendable, Equatable {
    /// The reference annotator; nil: the store's only annotator with the reference role.
    public var reference: String?
    public var levels: [ItemLevel]
    public var models: ModelAnswerOptions
    /// Only items disagreeing on this field (`b_lines` also matches B1 or B2 between humans).
    public var field: ReviewField?
    /// Only items whose reference (or, between humans, either human) gives this severity.
    public var severity: Int?
    /// Only items the model puts in this class.
    public var className: String?
    public var source: ReviewSettings.Source?
    /// Annotators left out of the humans (the trainee reviewing, whose answers are reviews).
    public var excluding: Set<String>

    public init(reference: String? = nil, levels: [ItemLevel] = [.frame, .video], models: ModelAnswerOptions = ModelAnswerOptions(),
                field: ReviewField? = nil, severity: Int? = nil, className: String? = nil, source: ReviewSettings.Source? = nil,
                excluding: Set<String> = []) {
        self.reference = reference; self.levels = levels; self.models = models; self.field = field
        self.severity = severity; self.className = className; self.source = source; self.excluding = excluding
    }

    /// From a session's `[review]` table.
    public init(_ s: ReviewSettings, trainingFiles: [String: Set<String>], excluding: Set<String> = []) {
        let levels: [ItemLevel] = s.level == .both ? [.frame, .video] : s.level == .frame ? [.frame] : [.video]
        self.init(reference: s.reference, levels: levels,
                  models: ModelAnswerOptions(aggregation: s.aggregation, trainingFiles: trainingFiles, includeTraining: s.includeTraining),
                  field: s.field, severity: s.severity, className: s.className, source: s.source, excluding: excluding)
    }
}

extension AnnotationStore {
    /// A model answer at least this sure of a wrong answer is a "confident model error": the queue
    /// shows those first.
    public static let confidentErrorThreshold = 0.8

    /// The reference annotator `name`, or with nil the store's only reference-role annotator.
    /// Errors say which annotators exist.
    public func referenceAnnotator(_ name: String?) throws -> Annotator {
        let all = try annotators()
        let list = all.map(\.name).joined(separator: ", ")
        if let name {
            guard let a = all.first(where: { $0.name == name }) else {
                throw PleuraError(file: path, "no annotator named '\(SafeText.sanitize(name))' to review against (annotators: \(list.isEmpty ? "none" : list))")
            }
            return a
        }
        let refs = all.filter { $0.role == .reference }
        guard refs.count == 1 else {
            throw PleuraError(file: path, refs.isEmpty
                ? "no reference annotator in this store: import one (pleura import … --as NAME) and name it with --reference NAME (annotators: \(list.isEmpty ? "none" : list))"
                : "several reference annotators (\(refs.map(\.name).joined(separator: ", "))): choose one with --reference NAME")
        }
        return refs[0]
    }

    /// The review queue: items where the reference and a model disagree (severity differs, or
    /// any finding both answer; the model's `b_lines` against the reference's B1 or B2), and items
    /// where two humans disagree, at the chosen levels. Model answers on a model's training files
    /// are left out unless `options.models.includeTraining` (then they are kept, marked).
    ///
    /// Order: confident model errors (confidence ≥ ``confidentErrorThreshold``) first, most
    /// confident first; then the largest disagreement (severity gap + differing findings), then
    /// the model's confidence; ties by media path, frame (video first), kind and the second side.
    public func reviewQueue(_ options: ReviewQueueOptions, root: String) throws -> [ReviewQueueEntry] {
        let reference = try referenceAnnotator(options.reference)
        let all = try annotators()
        let nameOf = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0.name) })
        let humans = Set(all.filter { $0.role != .model && $0.role != .trainee && !options.excluding.contains($0.name) }.map(\.id))
            .union([reference.id])
        let media = try allMedia()
        let shaOf = Dictionary(uniqueKeysWithValues: media.map { ($0.id, $0.sha256) })
        let pathOf = Dictionary(uniqueKeysWithValues: media.map { ($0.sha256, $0.exchangeName(root: root)) })
        var entries: [ReviewQueueEntry] = []
        for level in options.levels {
            var labels: [ItemRef: [Int64: LabelSet]] = [:]
            try forEachCurrentLabels(level: level) { mediaID, frame, annotatorID, set in
                guard humans.contains(annotatorID), let sha = shaOf[mediaID] else { return }
                labels[ItemRef(mediaSHA256: sha, frame: frame), default: [:]][annotatorID] = set
            }
            let answers = try modelAnswers(level: level, options: options.models)
            // Model versus reference.
            for model in answers.keys.sorted() {
                for (item, answer) in answers[model]! {
                    guard let ref = labels[item]?[reference.id] else { continue }
                    if answer.seenInTraining && !options.models.includeTraining { continue }
                    var differences: [ReviewQueueEntry.Difference] = []
                    for field in ReviewField.allCases {
                        guard let h = field.value(of: ref), let m = answer.value(field), h != m else { continue }
                        differences.append(.init(field: field, first: h, second: m, confidence: answer.confidence(field)))
                    }
                    guard !differences.isEmpty else { continue }
                    let confidence = differences.compactMap(\.confidence).max()
                    entries.append(ReviewQueueEntry(
                        kind: .modelVsReference, item: item, media: pathOf[item.mediaSHA256] ?? item.mediaSHA256,
                        first: reference.name, second: model, differences: differences, confidence: confidence,
                        size: Self.disagreementSize(differences), seenInTraining: answer.seenInTraining,
                        modelClass: answer.topClass?.name, confidentError: (confidence ?? 0) >= Self.confidentErrorThreshold))
                }
            }
            // Human versus human.
            for (item, byAnnotator) in labels where byAnnotator.count >= 2 {
                let ids = byAnnotator.keys.sorted { (nameOf[$0] ?? "") < (nameOf[$1] ?? "") }
                let modelClass = answers.keys.sorted().lazy.compactMap { answers[$0]?[item]?.topClass?.name }.first
                for x in 0..<(ids.count - 1) {
                    for y in (x + 1)..<ids.count {
                        let a = byAnnotator[ids[x]]!, b = byAnnotator[ids[y]]!
                        var differences: [ReviewQueueEntry.Difference] = []
                        for field in ReviewField.humanFields {
                            guard let va = field.value(of: a), let vb = field.value(of: b), va != vb else { continue }
                            differences.append(.init(field: field, first: va, second: vb, confidence: nil))
                        }
                        guard !differences.isEmpty else { continue }
                        entries.append(ReviewQueueEntry(
                            kind: .humanVsHuman, item: item, media: pathOf[item.mediaSHA256] ?? item.mediaSHA256,
                            first: nameOf[ids[x]] ?? "?", second: nameOf[ids[y]] ?? "?", differences: differences, confidence: nil,
                            size: Self.disagreementSize(differences), seenInTraining: false, modelClass: modelClass, confidentError: false))
                    }
                }
            }
            // The severity filter needs the humans' severities.
            if let s = options.severity {
                entries = entries.filter { e in
                    guard e.level == level else { return true }
                    let l = labels[e.item] ?? [:]
                    if e.kind == .modelVsReference { return l[reference.id]?.severity?.rawValue == s }
                    return l.contains { (nameOf[$0.key] == e.first || nameOf[$0.key] == e.second) && $0.value.severity?.rawValue == s }
                }
            }
        }
        if let f = options.field {
            entries = entries.filter { e in
                e.differences.contains { $0.field == f || (f == .bLines && ($0.field == .b1Lines || $0.field == .b2Lines)) }
            }
        }
        if let c = options.className { entries = entries.filter { $0.modelClass == c } }
        switch options.source {
        case nil: break
        case .model?: entries = entries.filter { $0.kind == .modelVsReference }
        case .human?: entries = entries.filter { $0.kind == .humanVsHuman }
        case .annotator(let n)?: entries = entries.filter { $0.first == n || $0.second == n }
        }
        return entries.sorted(by: Self.moreInstructive)
    }

    static func disagreementSize(_ d: [ReviewQueueEntry.Difference]) -> Int {
        d.reduce(0) { $0 + ($1.field == .severity ? abs($1.first - $1.second) : 1) }
    }

    static func moreInstructive(_ a: ReviewQueueEntry, _ b: ReviewQueueEntry) -> Bool {
        if a.confidentError != b.confidentError { return a.confidentError }
        if a.confidentError, a.confidence != b.confidence { return (a.confidence ?? 0) > (b.confidence ?? 0) }
        if a.size != b.size { return a.size > b.size }
        if a.confidence != b.confidence { return (a.confidence ?? 0) > (b.confidence ?? 0) }
        if a.media != b.media { return a.media < b.media }
        if a.item.frame != b.item.frame { return (a.item.frame ?? -1) < (b.item.frame ?? -1) }
        if a.kind != b.kind { return a.kind == .modelVsReference }
        if a.first != b.first { return a.first < b.first }
        return a.second < b.second
    }
}

extension ReviewQueueEntry {
    /// One JSON object (keys sorted, terminal-safe strings): `kind`, `level`, `media`, `sha256`,
    /// `frame` (null for a whole video), `first`, `second`, `differences` [{`field`, `first`,
    /// `second`, `confidence`}], `confidence`, `size`, `confident_error`, `seen_in_training`,
    /// `model_class`.
    public var json: String { jsonValue.serialized }

    var jsonValue: JSONValue {
        func num(_ d: Double?) -> JSONValue { d.map { .double($0) } ?? .null }
        return .object([
            "kind": .string(kind.rawValue), "level": .string(level.rawValue), "media": .string(media),
            "sha256": .string(item.mediaSHA256), "frame": item.frame.map { .int($0) } ?? .null,
            "first": .string(first), "second": .string(second),
            "differences": .array(differences.map { d in
                .object(["field": .string(d.field.rawValue), "first": .int(d.first), "second": .int(d.second), "confidence": num(d.confidence)])
            }),
            "confidence": num(confidence), "size": .int(size), "confident_error": .bool(confidentError),
            "seen_in_training": .bool(seenInTraining), "model_class": modelClass.map { .string($0) } ?? .null,
        ])
    }
}
