import Foundation
import GRDB
import PleuraCore

/// What an export writes: current labels, current ratings, reviews or predictions.
public enum ExportKind: String, Sendable, CaseIterable {
    case labels, ratings, reviews, predictions
}

/// Export formats: the canonical CSVs, JSON Lines, Label Studio tasks.
public enum ExchangeFormat: String, Sendable, CaseIterable {
    case csv, jsonl, labelstudio, pocus
}

/// Where exported text goes: a buffer flushed to a file descriptor in 1 MiB pieces (exports of
/// a million events should not hold the whole file in memory), or kept in memory for tests.
///
/// Written to a terminal, an export must not carry a note's or file name's ESC, C1 control or
/// bidi override to it: ``Terminal`` makes the text safe there (into a file or pipe the bytes
/// stay exact).
public final class TextSink {
    /// How text is made safe for a terminal: CSV and other text with every unsafe scalar but the
    /// line feeds between rows shown as `?` (``SafeText/sanitize(_:)``); JSON with `\u` escapes
    /// (``SafeText/terminalSafeJSON(_:)``), so it still decodes to the exact text.
    public enum Terminal: Sendable { case text, json }

    private var buffer: [UInt8] = []
    private let handle: FileHandle?
    private let terminal: Terminal?
    private var collected: [UInt8] = []

    /// Collects everything in memory (see ``text``).
    public init() { handle = nil; terminal = nil; buffer.reserveCapacity(1 << 20) }
    /// Streams to `handle`, made safe for a terminal when `terminal` says how.
    public init(handle: FileHandle, terminal: Terminal? = nil) {
        self.handle = handle; self.terminal = terminal; buffer.reserveCapacity(1 << 20)
    }

    public func write(_ s: String) {
        switch terminal {
        case nil: buffer.append(contentsOf: s.utf8)
        case .json?: buffer.append(contentsOf: SafeText.terminalSafeJSON(s).utf8)
        case .text?:
            for (i, line) in s.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if i > 0 { buffer.append(0x0A) }
                buffer.append(contentsOf: SafeText.sanitize(String(line)).utf8)
            }
        }
        if buffer.count >= 1 << 20 { flush() }
    }

    public func flush() {
        guard !buffer.isEmpty else { return }
        if let handle { handle.write(Data(buffer)) } else { collected.append(contentsOf: buffer) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Everything written, when collecting in memory.
    public var text: String { flush(); return String(decoding: collected, as: UTF8.self) }
}

/// Paths in exchange files are relative to a root folder (default: the current directory).
enum RootPaths {
    /// `path` relative to `root` (with `..` where needed); absolute paths on other trees stay
    /// relative too, so a file can be re-rooted with --root.
    static func relative(_ path: String, to root: String) -> String {
        let p = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        let r = URL(fileURLWithPath: root).standardizedFileURL.pathComponents
        var common = 0
        while common < p.count && common < r.count && p[common] == r[common] { common += 1 }
        let ups = Array(repeating: "..", count: r.count - common)
        let rest = Array(p[common...])
        let joined = (ups + rest).joined(separator: "/")
        return joined.isEmpty ? "." : joined
    }
}

extension AnnotationStore {
    /// Writes the current labels as the canonical label CSV, rows ordered by media path (relative
    /// to `root`), frame (whole video first) and annotator name, so the same store always gives
    /// the same bytes and export → import → export is byte-identical.
    ///
    /// ```swift
    /// let sink = TextSink()
    /// try store.exportLabelCSV(root: "/data", to: sink)
    /// try sink.text.write(toFile: "labels.csv", atomically: true, encoding: .utf8)
    /// ```
    public func exportLabelCSV(root: String, level: ItemLevel? = nil, to sink: TextSink) throws {
        sink.write(CSV.formatRow(LabelRecord.header))
        // Stored values are already the canonical CSV texts (LabelValue.text); only paths, names
        // and notes can need quoting. The result equals LabelRecord.formatFile of the same rows.
        var escapedPath = ("", ""), escapedName = ("", "")
        try forEachRawLabelRow(root: root, level: level) { path, _, frame, annotator, values in
            if escapedPath.0 != path { escapedPath = (path, CSV.escape(path)) }
            if escapedName.0 != annotator { escapedName = (annotator, CSV.escape(annotator)) }
            var line = escapedPath.1
            line += ","
            if let frame { line += String(frame) }
            line += ","
            line += escapedName.1
            for (i, value) in values.enumerated() {
                line += ","
                if let value { line += i == values.count - 1 ? CSV.escape(value) : value }
            }
            line += "\n"
            sink.write(line)
        }
        sink.flush()
    }

    /// Current labels as JSON Lines: one object per item and annotator, keys sorted:
    /// `{"a_lines":true,"annotator":"alice","frame":3,"kind":"label","media":"clips/a.mp4","severity":2,"sha256":"…"}`
    /// (fields not assessed are left out).
    public func exportLabelJSONLines(root: String, level: ItemLevel? = nil, to sink: TextSink) throws {
        try forEachLabelRow(root: root, level: level) { path, sha, frame, annotator, labels in
            sink.write(JSONLine.label(media: path, sha256: sha, frame: frame, annotator: annotator, labels: labels) + "\n")
        }
        sink.flush()
    }

    /// Current ratings as the canonical rating CSV (every provenance field and answer), one row
    /// per rater and map, ordered by media path, frame, annotator, then the row's other columns,
    /// so export → import → export is byte-identical.
    public func exportRatingCSV(root: String, to sink: TextSink) throws {
        sink.write(CSV.formatRow(RatingRecord.header))
        for r in try ratingRecords(root: root) { sink.write(CSV.formatRow(r.record.fields)) }
        sink.flush()
    }

    /// Current ratings as JSON Lines: the rating CSV's columns as keys, plus `kind` and the
    /// media's `sha256`.
    public func exportRatingJSONLines(root: String, to sink: TextSink) throws {
        for r in try ratingRecords(root: root) { sink.write(JSONLine.rating(r.record, sha256: r.sha256) + "\n") }
        sink.flush()
    }

    /// Every current rating as a ``RatingRecord`` (media relative to `root`) in export order.
    public func ratingRecords(root: String) throws -> [(record: RatingRecord, sha256: String)] {
        try ratingRecords(of: try ratings(), root: root)
    }

    /// ``ratingRecords(root:)`` of rows already read (statistics reads the ratings once).
    func ratingRecords(of rows: [RatingRow], root: String) throws -> [(record: RatingRecord, sha256: String)] {
        let paths = Dictionary(uniqueKeysWithValues: try allMedia().map { ($0.sha256, $0.exchangeName(root: root)) })
        return rows.map { r in
            var record = RatingRecord(media: paths[r.item.mediaSHA256] ?? "sha256:" + r.item.mediaSHA256, frame: r.item.frame,
                                      annotator: r.annotator, model: r.heatmap.modelSHA256, method: r.heatmap.method,
                                      target: r.heatmap.target, rating: r.rating, comment: r.comment)
            record.layer = r.heatmap.layer; record.heatmapSHA256 = r.heatmap.heatmapSHA256
            record.trial = r.trial; record.slot = r.map.slot; record.scale = r.scale; record.overlay = r.map.overlay
            record.classGuess = r.classGuess; record.visible = r.visible; record.highlighted = r.highlighted
            record.better = r.better; record.seconds = r.seconds
            return (record, r.item.mediaSHA256)
        }.sorted { a, b in
            let x = a.record, y = b.record
            if x.media != y.media { return x.media < y.media }
            if (x.frame ?? -1) != (y.frame ?? -1) { return (x.frame ?? -1) < (y.frame ?? -1) }
            if x.annotator != y.annotator { return x.annotator < y.annotator }
            return x.fields.lexicographicallyPrecedes(y.fields)
        }
    }

    /// Reviews as CSV (`media,frame,annotator,at,field,first_source,first_value,second_source,
    /// second_value,own_value,verdict,comment,heatmap_sha256`) or JSON Lines, oldest first.
    public func exportReviews(root: String, format: ExchangeFormat, to sink: TextSink) throws {
        let names = Dictionary(uniqueKeysWithValues: try annotators().map { ($0.id, $0.name) })
        let paths = Dictionary(uniqueKeysWithValues: try allMedia().map { ($0.sha256, $0.exchangeName(root: root)) })
        let header = ["media", "frame", "annotator", "at", "field", "first_source", "first_value", "second_source",
                      "second_value", "own_value", "verdict", "comment", "heatmap_sha256"]
        if format == .csv { sink.write(CSV.formatRow(header)) }
        for r in try reviews() {
            let fields = [paths[r.item.mediaSHA256] ?? r.item.mediaSHA256, r.item.frame.map(String.init) ?? "",
                          names[r.annotatorID ?? 0] ?? "", r.at ?? "", r.field, r.firstSource, r.firstValue ?? "",
                          r.secondSource, r.secondValue ?? "", r.ownValue ?? "", r.verdict.rawValue, r.comment ?? "",
                          r.heatmapSHA256 ?? ""]
            if format == .csv {
                sink.write(CSV.formatRow(fields))
            } else {
                var object: [String: JSONValue] = ["kind": .string("review"), "sha256": .string(r.item.mediaSHA256)]
                for (k, v) in zip(header, fields) where !v.isEmpty { object[k] = .string(v) }
                if let f = r.item.frame { object["frame"] = .int(f) }
                sink.write(JSONValue.object(object).serialized + "\n")
            }
        }
        sink.flush()
    }

    /// Predictions as CSV (`media,frame,model,head,label,probability`, the column names issue 6 fixed,
    /// then `uncertainty`, empty when the model gave none) or JSON Lines (`uncertainty` when known).
    public func exportPredictions(root: String, format: ExchangeFormat, to sink: TextSink) throws {
        let paths = Dictionary(uniqueKeysWithValues: try allMedia().map { ($0.sha256, $0.exchangeName(root: root)) })
        if format == .csv { sink.write(CSV.formatRow(["media", "frame", "model", "head", "label", "probability", "uncertainty"])) }
        let rows = try predictions().sorted {
            (paths[$0.item.mediaSHA256] ?? "", $0.item.frame ?? -1, $0.modelSHA256, $0.head, $0.className)
                < (paths[$1.item.mediaSHA256] ?? "", $1.item.frame ?? -1, $1.modelSHA256, $1.head, $1.className)
        }
        for p in rows {
            let media = paths[p.item.mediaSHA256] ?? p.item.mediaSHA256
            if format == .csv {
                sink.write(CSV.formatRow([media, p.item.frame.map(String.init) ?? "", p.modelSHA256, p.head, p.className,
                                          String(p.probability), p.uncertainty.map { String($0) } ?? ""]))
            } else {
                var object: [String: JSONValue] = ["kind": .string("prediction"), "media": .string(media),
                                                   "sha256": .string(p.item.mediaSHA256), "model": .string(p.modelSHA256),
                                                   "head": .string(p.head), "label": .string(p.className),
                                                   "probability": .double(p.probability)]
                if let f = p.item.frame { object["frame"] = .int(f) }
                if let u = p.uncertainty { object["uncertainty"] = .double(u) }
                sink.write(JSONValue.object(object).serialized + "\n")
            }
        }
        sink.flush()
    }

    // MARK: - Internals

    /// Streams current label rows in canonical order: media by relative path, then frame
    /// (whole video first), then annotator name.
    func forEachLabelRow(root: String, level: ItemLevel?,
                         _ body: (_ path: String, _ sha: String, _ frame: Int?, _ annotator: String, _ labels: LabelSet) throws -> Void) throws {
        try forEachRawLabelRow(root: root, level: level) { path, sha, frame, annotator, values in
            var labels = LabelSet()
            for (i, field) in LabelField.allCases.enumerated() { Self.apply(field: field.rawValue, text: values[i], to: &labels) }
            if !labels.isEmpty { try body(path, sha, frame, annotator, labels) }
        }
    }

    /// The same rows with the stored canonical texts, in ``LabelField/allCases`` order (nil: not
    /// assessed). The CSV export writes them as they are: no parsing on the hot path.
    func forEachRawLabelRow(root: String, level: ItemLevel?,
                            _ body: (_ path: String, _ sha: String, _ frame: Int?, _ annotator: String, _ values: [String?]) throws -> Void) throws {
        try read { db in
            let media = try Self.fetchAllMedia(db).map { ($0, $0.exchangeName(root: root)) }
                .sorted { ($0.1, $0.0.sha256) < ($1.1, $1.0.sha256) }
            let annotators = try Row.fetchAll(db, sql: "SELECT id, name FROM annotator")
            let nameOf = Dictionary(uniqueKeysWithValues: annotators.map { (row: Row) -> (Int64, String) in (row[0], row[1]) })
            let filter: String
            switch level {
            case nil: filter = ""
            case .frame?: filter = "AND frame >= 0"
            case .video?: filter = "AND frame = -1"
            }
            let fieldCase = "CASE field " + LabelField.allCases.enumerated().map { "WHEN '\($1.rawValue)' THEN \($0)" }
                .joined(separator: " ") + " END"
            let statement = try db.makeStatement(sql: """
                SELECT frame, annotator_id, \(fieldCase) AS f, value FROM current_value
                WHERE media_id = ? AND context_id = 0 AND value IS NOT NULL AND f IS NOT NULL \(filter)
                ORDER BY frame, annotator_id
                """)
            let fieldCount = LabelField.allCases.count
            for (record, path) in media {
                var rows: [(frame: Int, name: String, values: [String?])] = []
                var lastFrame = Int.min, lastAnnotator: Int64 = -1
                let cursor = try Row.fetchCursor(statement, arguments: [record.id])
                while let row = try cursor.next() {
                    let frame: Int = row[0], annotatorID: Int64 = row[1]
                    if frame != lastFrame || annotatorID != lastAnnotator {
                        rows.append((frame, nameOf[annotatorID] ?? "?", [String?](repeating: nil, count: fieldCount)))
                        lastFrame = frame; lastAnnotator = annotatorID
                    }
                    let f: Int = row[2]
                    rows[rows.count - 1].values[f] = row[3]
                }
                rows.sort { ($0.frame, $0.name) < ($1.frame, $1.name) }
                for r in rows {
                    try body(path, record.sha256, r.frame < 0 ? nil : r.frame, r.name, r.values)
                }
            }
        }
    }
}
