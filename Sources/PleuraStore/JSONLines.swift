import Foundation
import PleuraCore

/// A JSON value with deterministic output (keys sorted, no spaces, shortest round-trip numbers),
/// so exports are byte-stable. Parsing goes through JSONDecoder, which keeps `true` and `1` apart.
enum JSONValue: Equatable, Decodable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !array.isAtEnd { items.append(try array.decode(JSONValue.self)) }
            self = .array(items)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            var out: [String: JSONValue] = [:]
            for key in object.allKeys { out[key.stringValue] = try object.decode(JSONValue.self, forKey: key) }
            self = .object(out)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null }
        else if let b = try? single.decode(Bool.self) { self = .bool(b) }
        else if let i = try? single.decode(Int.self) { self = .int(i) }
        else if let d = try? single.decode(Double.self) { self = .double(d) }
        else { self = .string(try single.decode(String.self)) }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var serialized: String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? (d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) + ".0" : String(d)) : "null"
        case .string(let s): JSONValue.quote(s, into: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() { if i > 0 { out += "," }; v.write(to: &out) }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, k) in o.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                JSONValue.quote(k, into: &out); out += ":"; o[k]!.write(to: &out)
            }
            out += "}"
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }

    static func parse(_ text: String, file: String, line: Int?) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            let at = line.map { "line \($0): " } ?? ""
            var detail = "syntax error"
            if case DecodingError.dataCorrupted(let c) = error { detail = c.underlyingError.map { "\($0.localizedDescription)" } ?? c.debugDescription }
            throw PleuraError(file: file, "\(at)not valid JSON (\(detail))")
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
    var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d): return Int(exactly: d)
        default: return nil
        }
    }
    var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    var isNull: Bool { self == .null }
}

/// The JSON Lines shapes Pleura writes and reads.
enum JSONLine {
    static func label(media: String, sha256: String, frame: Int?, annotator: String, labels: LabelSet) -> String {
        var o: [String: JSONValue] = ["kind": .string("label"), "media": .string(media), "sha256": .string(sha256),
                                      "annotator": .string(annotator)]
        if let frame { o["frame"] = .int(frame) }
        for f in Finding.allCases { if let v = labels[f] { o[f.csvName] = .bool(v) } }
        if let s = labels.severity { o["severity"] = .int(s.rawValue) }
        if let q = labels.quality { o["quality"] = .string(q.rawValue) }
        if let n = labels.note, !n.isEmpty { o["note"] = .string(n) }
        return JSONValue.object(o).serialized
    }

    /// A rating row: the rating CSV's columns as keys (numbers as numbers, pattern sets as
    /// arrays, `[]` for an answered empty set), empty columns left out, plus `kind` and `sha256`.
    static func rating(_ record: RatingRecord, sha256: String) -> String {
        var o: [String: JSONValue] = ["kind": .string("rating"), "sha256": .string(sha256)]
        for (name, text) in zip(RatingRecord.header, record.fields) where !text.isEmpty {
            switch name {
            case "frame", "rating": o[name] = .int(Int(text)!)
            case "opacity", "threshold", "seconds": o[name] = .double(Double(text)!)
            case "visible", "highlighted":
                o[name] = .array(text == "none" ? [] : text.split(separator: ";").map { .string(String($0)) })
            default: o[name] = .string(text)
            }
        }
        return JSONValue.object(o).serialized
    }

    /// The rating CSV fields of a JSON rating object (the inverse of ``rating(_:sha256:)``), so
    /// both files are checked by the same row parser.
    static func ratingFields(_ value: JSONValue, media: String, annotator: String) throws -> [String] {
        try RatingRecord.header.map { name in
            if name == "media" { return media }
            if name == "annotator" { return annotator }
            guard let v = value[name], !v.isNull else { return "" }
            switch v {
            case .string(let s): return s
            case .int(let i): return String(i)
            case .double(let d): return OverlaySettings.text(d)
            case .array(let items):
                let words = items.compactMap(\.stringValue)
                guard words.count == items.count else { throw JSONFieldError(name: name) }
                return words.isEmpty ? "none" : words.joined(separator: ";")
            default: throw JSONFieldError(name: name)
            }
        }
    }

    struct JSONFieldError: Error { var name: String }
}

extension AnnotationStore {
    /// Imports JSON Lines as ``exportLabelJSONLines(root:level:to:)`` and
    /// ``exportRatingJSONLines(root:to:)`` write them (`kind` `label` or `rating`; media by
    /// `sha256`, else by `media` path relative to `root`). All or nothing, errors name the line.
    ///
    /// ```swift
    /// try store.importJSONLines(text: text, file: "labels.jsonl", root: ".")
    /// ```
    @discardableResult
    public func importJSONLines(text: String, file: String, root: String, as annotatorName: String? = nil) throws -> ImportSummary {
        var resolver = MediaResolver(store: self, root: root, file: file)
        var labels: [PendingLabel] = []
        var ratings: [PendingRating] = []
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = String(rawLine)
            if lineNumber == 1 && line.hasPrefix("\u{FEFF}") { line.removeFirst() }
            if line.hasSuffix("\r") { line.removeLast() }
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let value = try JSONValue.parse(line, file: file, line: lineNumber)
            func fail(_ what: String) -> PleuraError { PleuraError(file: file, "line \(lineNumber): \(what)") }
            guard case .object = value else { throw fail("expected a JSON object") }
            let kind = value["kind"]?.stringValue ?? "label"
            guard let media = value["media"]?.stringValue ?? value["sha256"]?.stringValue else { throw fail("no media (give \"media\" or \"sha256\")") }
            guard let annotator = annotatorName ?? value["annotator"]?.stringValue, !annotator.isEmpty else { throw fail("no annotator") }
            var frame = -1
            if let f = value["frame"], !f.isNull {
                guard let n = f.intValue, n >= 0 else { throw fail("frame must be a whole number ≥ 0 or null") }
                frame = n
            }
            let mediaID = try resolver.resolve(media: media, sha256: value["sha256"]?.stringValue, line: lineNumber)
            switch kind {
            case "label":
                var set = LabelSet()
                for field in LabelField.allCases {
                    guard let v = value[field.rawValue], !v.isNull else { continue }
                    let text: String
                    switch v {
                    case .bool(let b): text = b ? "1" : "0"
                    case .int(let i): text = String(i)
                    case .string(let s): text = s
                    default: throw fail("\(field.rawValue) has an unexpected type")
                    }
                    do { set.set(field, to: try LabelValue.parse(field: field, text: text)) }
                    catch let e as PleuraError { throw fail(e.reason) }
                }
                labels.append(PendingLabel(line: lineNumber, mediaID: mediaID, frame: frame, annotator: annotator, labels: set))
            case "rating":
                let fields: [String]
                do { fields = try JSONLine.ratingFields(value, media: media, annotator: annotator) }
                catch let e as JSONLine.JSONFieldError { throw fail("\(e.name) has an unexpected type") }
                let record = try RatingRecord(fields: fields, file: file, line: lineNumber)
                ratings.append(PendingRating(line: lineNumber, mediaID: mediaID, frame: frame, annotator: annotator, record: record))
            default:
                throw fail("kind '\(kind)' cannot be imported (label or rating)")
            }
        }
        return try applyImport(file: file, labels: labels, ratings: ratings, defaultRole: ratings.isEmpty ? .labeller : .rater)
    }
}
