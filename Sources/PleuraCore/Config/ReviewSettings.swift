import Foundation
import TOMLKit

/// How a clip's frame predictions become one video-level answer (Roy et al. compared such rules).
///
/// - `mean`: the mean probability of each class over the clip's predicted frames; severity is the
///   class with the highest mean, a finding is present when its mean probability is at least 0.5.
/// - `max`: severity is the highest of the frames' most probable classes ("max of argmax"), with
///   the highest probability any frame gave it as confidence; a finding is present when any frame
///   gives it at least 0.5.
/// - `expected`: severity is the mean over frames of the expected severity Σ k·P(k), rounded to the
///   nearest class; its confidence is that class's mean probability; findings as `mean`.
public enum VideoAggregation: String, CaseIterable, Sendable {
    case mean, max, expected
}

/// The disagreement fields a review queue compares: severity, the four findings, and the model's
/// `b_lines` (any B-lines) against the humans' "B1 or B2".
public enum ReviewField: String, CaseIterable, Sendable {
    case severity
    case aLines = "a_lines"
    case bLines = "b_lines"
    case b1Lines = "b1_lines"
    case b2Lines = "b2_lines"
    case consolidation

    /// "B-lines (B1 or B2)".
    public var displayName: String {
        switch self {
        case .severity: return "severity"
        case .aLines: return "A-lines"
        case .bLines: return "B-lines (B1 or B2)"
        case .b1Lines: return "B1 (separate B-lines)"
        case .b2Lines: return "B2 (confluent B-lines)"
        case .consolidation: return "consolidation"
        }
    }

    /// A human's answer on this field: severity 0–3, a finding 1/0; `b_lines` is 1 when B1 or B2
    /// is present, 0 when both are assessed absent, nil otherwise (not assessed).
    public func value(of labels: LabelSet) -> Int? {
        switch self {
        case .severity: return labels.severity?.rawValue
        case .aLines: return labels[.aLines].map { $0 ? 1 : 0 }
        case .b1Lines: return labels[.b1Lines].map { $0 ? 1 : 0 }
        case .b2Lines: return labels[.b2Lines].map { $0 ? 1 : 0 }
        case .consolidation: return labels[.consolidation].map { $0 ? 1 : 0 }
        case .bLines:
            if labels[.b1Lines] == true || labels[.b2Lines] == true { return 1 }
            if labels[.b1Lines] == false && labels[.b2Lines] == false { return 0 }
            return nil
        }
    }

    /// The fields two humans are compared on (B1 and B2 separately: both are human fields).
    public static let humanFields: [ReviewField] = [.severity, .aLines, .b1Lines, .b2Lines, .consolidation]
}

/// What a review session reviews: the `[review]` table of a session file (`mode = "review"`).
///
/// ```toml
/// [review]
/// reference = "reference"        # annotator name (or the --as NAME of an import); default: the store's reference
/// level = "both"                 # frame | video | both
/// aggregation = "mean"           # mean | max | expected (video level, from frame predictions)
/// quiz = true                    # the trainee answers first; the others are shown after
/// include_training = false       # keep predictions on the model's training files (marked)
/// finding = "b_lines"            # only items disagreeing on this field (severity or a finding)
/// severity = 2                   # only items where the reference (or a human of the pair) says 2
/// class = "covid"                # only items the model puts in this class (its default head)
/// source = "model"               # model | human | an annotator name
/// ```
public struct ReviewSettings: Equatable, Sendable {
    public enum Level: String, CaseIterable, Sendable { case frame, video, both }

    /// Which disagreements a queue holds.
    public enum Source: Equatable, Sendable {
        case model, human
        case annotator(String)

        public init(_ text: String) {
            switch text {
            case "model": self = .model
            case "human": self = .human
            default: self = .annotator(text)
            }
        }

        public var description: String {
            switch self {
            case .model: return "model"
            case .human: return "human"
            case .annotator(let a): return a
            }
        }
    }

    /// The reference annotator's name; nil: the store's only annotator with the reference role.
    public var reference: String?
    public var level: Level = .both
    public var aggregation: VideoAggregation = .mean
    public var quiz = false
    public var includeTraining = false
    public var field: ReviewField?
    public var severity: Int?
    public var className: String?
    public var source: Source?

    public init(reference: String? = nil, level: Level = .both, aggregation: VideoAggregation = .mean, quiz: Bool = false,
                includeTraining: Bool = false, field: ReviewField? = nil, severity: Int? = nil, className: String? = nil,
                source: Source? = nil) {
        self.reference = reference; self.level = level; self.aggregation = aggregation; self.quiz = quiz
        self.includeTraining = includeTraining; self.field = field; self.severity = severity
        self.className = className; self.source = source
    }

    /// The settings a `[review]` table may hold (for Session's unknown-key check).
    static let knownKeys = ["reference", "level", "aggregation", "quiz", "include_training", "finding", "severity", "class", "source"]

    static func parse(_ t: TOMLTable, at: (String) -> String) throws -> ReviewSettings {
        func fail(_ key: String, _ reason: String) -> PleuraError { PleuraError(file: at("review." + key), reason) }
        func text(_ key: String) throws -> String? {
            guard let v = t[key] else { return nil }
            guard let s = v.string, !s.isEmpty, !s.unicodeScalars.contains(where: SafeText.isUnsafe) else {
                throw fail(key, "review.\(key) must be a non-empty name in quotes")
            }
            return s
        }
        func flag(_ key: String) throws -> Bool? {
            guard let v = t[key] else { return nil }
            guard let b = v.bool else { throw fail(key, "review.\(key) must be true or false") }
            return b
        }
        var r = ReviewSettings()
        r.reference = try text("reference")
        if let s = try text("level") {
            guard let l = Level(rawValue: s) else { throw fail("level", "review.level must be \"frame\", \"video\" or \"both\"") }
            r.level = l
        }
        if let s = try text("aggregation") {
            guard let a = VideoAggregation(rawValue: s) else { throw fail("aggregation", "review.aggregation must be \"mean\", \"max\" or \"expected\"") }
            r.aggregation = a
        }
        r.quiz = try flag("quiz") ?? false
        r.includeTraining = try flag("include_training") ?? false
        if let s = try text("finding") {
            guard let f = ReviewField(rawValue: s) else {
                throw fail("finding", "review.finding must be one of " + ReviewField.allCases.map(\.rawValue).joined(separator: ", "))
            }
            r.field = f
        }
        if let v = t["severity"] {
            guard let n = v.int, (0...3).contains(n) else { throw fail("severity", "review.severity must be 0, 1, 2 or 3") }
            r.severity = n
        }
        r.className = try text("class")
        if let s = try text("source") { r.source = Source(s) }
        return r
    }
}
