/// The value of one ``LabelField``: a finding flag, a severity, a quality or a note.
///
/// Its ``text`` is exactly the canonical label CSV's spelling (`1`/`0`, `0`–`3`, `ok`/`poor`, the
/// note), which is also how the store's event log records old → new values. "Not assessed" is
/// `nil` (`LabelValue?`), spelled as an empty CSV field.
///
/// ```swift
/// let v = try LabelValue(field: .severity, text: "2")     // .severity(Severity(rawValue: 2)!)
/// v.text                                                   // "2"
/// var labels = LabelSet()
/// labels[.b1Lines] = true
/// labels.value(of: .b1Lines)                               // .flag(true)
/// ```
public enum LabelValue: Hashable, Sendable, CustomStringConvertible {
    case flag(Bool)
    case severity(Severity)
    case quality(Quality)
    case note(String)

    /// The canonical text (CSV cell and event-log value).
    public var text: String {
        switch self {
        case .flag(let b): return b ? "1" : "0"
        case .severity(let s): return String(s.rawValue)
        case .quality(let q): return q.rawValue
        case .note(let n): return n
        }
    }

    public var description: String { text }

    /// Whether this value may be stored in `field` (flags in findings, a severity in `severity`…).
    public func fits(_ field: LabelField) -> Bool {
        switch (self, field) {
        case (.flag, .aLines), (.flag, .b1Lines), (.flag, .b2Lines), (.flag, .consolidation): return true
        case (.severity, .severity), (.quality, .quality), (.note, .note): return true
        default: return false
        }
    }

    /// Parses the canonical text of `field`; an empty text is "not assessed" (nil).
    /// Throws a ``PleuraError`` without a file (the caller knows which file and line).
    public static func parse(field: LabelField, text: String) throws -> LabelValue? {
        if text.isEmpty { return nil }
        return try LabelValue(field: field, text: text)
    }

    /// Parses a non-empty canonical text of `field`.
    public init(field: LabelField, text: String) throws {
        switch field {
        case .aLines, .b1Lines, .b2Lines, .consolidation:
            switch text {
            case "1": self = .flag(true)
            case "0": self = .flag(false)
            default: throw PleuraError(file: nil, "\(field.rawValue) '\(text)' must be 1, 0 or empty")
            }
        case .severity:
            guard let n = Int(text), let s = Severity(rawValue: n) else {
                throw PleuraError(file: nil, "severity '\(text)' must be 0, 1, 2, 3 or empty")
            }
            self = .severity(s)
        case .quality:
            guard let q = Quality(rawValue: text) else {
                throw PleuraError(file: nil, "quality '\(text)' must be ok, poor or empty")
            }
            self = .quality(q)
        case .note:
            self = .note(text)
        }
    }
}

extension LabelSet {
    /// The value of one field, nil when not assessed (an empty note counts as none).
    public func value(of field: LabelField) -> LabelValue? {
        switch field {
        case .aLines, .b1Lines, .b2Lines, .consolidation: return findings[field.finding!].map { .flag($0) }
        case .severity: return severity.map { .severity($0) }
        case .quality: return quality.map { .quality($0) }
        case .note: return (note?.isEmpty ?? true) ? nil : .note(note!)
        }
    }

    /// Sets one field; nil clears it (not assessed). The value must fit the field.
    public mutating func set(_ field: LabelField, to value: LabelValue?) {
        precondition(value.map { $0.fits(field) } ?? true, "\(value!) does not fit \(field)")
        switch (field, value) {
        case (_, nil):
            if let f = field.finding { findings[f] = nil }
            else if field == .severity { severity = nil }
            else if field == .quality { quality = nil }
            else { note = nil }
        case (_, .flag(let b)?): findings[field.finding!] = b
        case (_, .severity(let s)?): severity = s
        case (_, .quality(let q)?): quality = q
        case (_, .note(let n)?): note = n.isEmpty ? nil : n
        }
    }
}
