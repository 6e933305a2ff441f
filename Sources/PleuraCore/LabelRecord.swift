/// One row of the canonical label CSV (design.md):
/// `media,frame,annotator,a_lines,b1_lines,b2_lines,consolidation,severity,quality,note`.
///
/// `media` is a path relative to the import/export root; `frame` is 0-based or nil for a
/// whole-video label; findings are `1`/`0`/empty (empty = not assessed); `severity` 0–3 or empty;
/// `quality` `ok`/`poor`/empty.
public struct LabelRecord: CanonicalCSVRecord, Equatable, Sendable {
    public static let header = ["media", "frame", "annotator", "a_lines", "b1_lines", "b2_lines",
                                "consolidation", "severity", "quality", "note"]

    public var media: String
    public var frame: Int?
    public var annotator: String
    public var labels: LabelSet

    public init(media: String, frame: Int?, annotator: String, labels: LabelSet) {
        self.media = media
        self.frame = frame
        self.annotator = annotator
        self.labels = labels
    }

    /// The CSV fields, in header order.
    public var fields: [String] {
        func flag(_ f: Finding) -> String { labels[f].map { $0 ? "1" : "0" } ?? "" }
        return [media, frame.map(String.init) ?? "", annotator,
                flag(.aLines), flag(.b1Lines), flag(.b2Lines), flag(.consolidation),
                labels.severity.map { String($0.rawValue) } ?? "",
                labels.quality?.rawValue ?? "", labels.note ?? ""]
    }

    /// Parses one data row; `file` and `line` name the place in errors.
    public init(fields: [String], file: String, line: Int) throws {
        func fail(_ what: String) -> PleuraError { PleuraError(file: file, "line \(line): \(what)") }
        guard fields.count == LabelRecord.header.count else {
            throw fail("expected \(LabelRecord.header.count) fields (\(LabelRecord.header.joined(separator: ","))), found \(fields.count)")
        }
        guard !fields[0].isEmpty else { throw fail("media is empty") }
        guard !fields[2].isEmpty else { throw fail("annotator is empty") }
        var frame: Int? = nil
        if !fields[1].isEmpty {
            guard let f = Int(fields[1]), f >= 0 else { throw fail("frame '\(fields[1])' is not a frame index (0, 1, 2, … or empty for the whole video)") }
            frame = f
        }
        var labels = LabelSet()
        for (offset, finding) in [Finding.aLines, .b1Lines, .b2Lines, .consolidation].enumerated() {
            switch fields[3 + offset] {
            case "": break
            case "1": labels[finding] = true
            case "0": labels[finding] = false
            case let other: throw fail("\(finding.csvName) '\(other)' must be 1, 0 or empty")
            }
        }
        if !fields[7].isEmpty {
            guard let n = Int(fields[7]), let s = Severity(rawValue: n) else {
                throw fail("severity '\(fields[7])' must be 0, 1, 2, 3 or empty")
            }
            labels.severity = s
        }
        if !fields[8].isEmpty {
            guard let q = Quality(rawValue: fields[8]) else { throw fail("quality '\(fields[8])' must be ok, poor or empty") }
            labels.quality = q
        }
        labels.note = fields[9].isEmpty ? nil : fields[9]
        self.init(media: fields[0], frame: frame, annotator: fields[2], labels: labels)
    }
}
