/// The LUS findings Pleura labels per frame or per video (see docs: lus-primer.md).
/// A frame can show several at once, so labels hold one tri-state flag per finding.
public enum Finding: String, CaseIterable, Codable, Sendable {
    case aLines = "a_lines"
    case b1Lines = "b1_lines"
    case b2Lines = "b2_lines"
    case consolidation = "consolidation"

    /// The column name in the canonical label CSV and the key in `pleura stats --json`.
    public var csvName: String { rawValue }

    /// What a clinician reads on screen.
    public var displayName: String {
        switch self {
        case .aLines: return "A-lines"
        case .b1Lines: return "B1 (separate B-lines)"
        case .b2Lines: return "B2 (confluent B-lines)"
        case .consolidation: return "Consolidation"
        }
    }
}

/// ICLUS / Soldati severity score, 0–3.
public struct Severity: RawRepresentable, Hashable, Comparable, Codable, Sendable {
    public let rawValue: Int
    /// Nil unless `rawValue` is 0...3.
    public init?(rawValue: Int) {
        guard (0...3).contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }
    public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }
    public static let allValues: [Severity] = (0...3).map { Severity(rawValue: $0)! }
}

/// Image quality flag of a frame or video.
public enum Quality: String, CaseIterable, Codable, Sendable {
    case ok
    case poor
}

/// Born-style usefulness rating of a heatmap, −3 ("only distracting") … 3 ("very helpful").
public struct HeatmapRating: RawRepresentable, Hashable, Comparable, Codable, Sendable {
    public let rawValue: Int
    public init?(rawValue: Int) {
        guard (-3...3).contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }
    public static func < (a: HeatmapRating, b: HeatmapRating) -> Bool { a.rawValue < b.rawValue }

    /// The anchor wording of the scale, as Born et al. 2021 used it.
    public var meaning: String {
        switch rawValue {
        case -3: return "only distracting"
        case -2: return "mostly distracting"
        case -1: return "slightly distracting"
        case 0: return "neither helpful nor distracting"
        case 1: return "slightly helpful"
        case 2: return "helpful"
        default: return "very helpful"
        }
    }
}

/// What an annotator does; `reference` holds imported ground truth, `model` the embedded CNN.
public enum AnnotatorRole: String, CaseIterable, Codable, Sendable {
    case labeller, rater, trainee, reference, model
}

/// One thing that is labelled: a frame of a media file, or the whole video (`frame == nil`).
/// Media are identified by content hash, so a moved file keeps its labels.
public struct ItemRef: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Lower-case hex SHA-256 of the file's bytes.
    public var mediaSHA256: String
    /// 0-based frame index in display order, or nil for a video-level item.
    public var frame: Int?

    public init(mediaSHA256: String, frame: Int?) {
        self.mediaSHA256 = mediaSHA256
        self.frame = frame
    }

    public var isVideoLevel: Bool { frame == nil }
    public var description: String {
        "\(mediaSHA256.prefix(12))@\(frame.map(String.init) ?? "video")"
    }
}

/// The labels of one item. Each finding is tri-state: true (present), false (absent), nil (not
/// assessed), exactly as the canonical label CSV's `1` / `0` / empty.
public struct LabelSet: Equatable, Codable, Sendable {
    public var findings: [Finding: Bool]
    public var severity: Severity?
    public var quality: Quality?
    public var note: String?

    public init(findings: [Finding: Bool] = [:], severity: Severity? = nil,
                quality: Quality? = nil, note: String? = nil) {
        self.findings = findings
        self.severity = severity
        self.quality = quality
        self.note = note
    }

    public subscript(finding: Finding) -> Bool? {
        get { findings[finding] }
        set { findings[finding] = newValue }
    }

    /// True when nothing has been assessed.
    public var isEmpty: Bool {
        findings.isEmpty && severity == nil && quality == nil && (note ?? "").isEmpty
    }
}

/// The fields a label event can change; their raw values are the canonical CSV column names.
public enum LabelField: String, CaseIterable, Codable, Sendable {
    case aLines = "a_lines"
    case b1Lines = "b1_lines"
    case b2Lines = "b2_lines"
    case consolidation = "consolidation"
    case severity = "severity"
    case quality = "quality"
    case note = "note"

    public init(_ finding: Finding) { self = LabelField(rawValue: finding.rawValue)! }
    public var finding: Finding? { Finding(rawValue: rawValue) }
}
