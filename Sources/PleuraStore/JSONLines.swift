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

    /// Strings go out terminal-safe (C0, DEL, C1 controls and bidi overrides as `\u` escapes:
    /// ``SafeText/appendJSONQuoted(_:to:)``), so stats JSON and exports can be shown raw.
    static func quote(_ s: String, into out: inout String) {
        SafeText.appendJSONQuoted(s, to: &out)
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

extension JSONValue {
    /// How errors name a JSON type ("a string", "an object", …).
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "true/false"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension ExchangeReader {
    /// Keys a JSON Lines label object may have, and those of a rating object.
    static let labelKeys = Set(["kind", "media", "sha256", "annotator", "frame"] + LabelField.allCases.map(\.rawValue))
    static let ratingKeys = Set(["kind", "sha256"] + RatingRecord.header)
    static let predictionKeys = Set(["kind", "media", "sha256", "frame", "model", "head", "label", "probability", "uncertainty"])

    /// JSON Lines as `pleura export --format jsonl` writes them: one object per line, `kind`
    /// `label` (default), `rating` or `prediction` (`model`, `head`, `label` strings,
    /// `probability` and optional `uncertainty` numbers 0…1), media by `sha256` and/or `media` path. Types are exact:
    /// findings `true`/`false`, `severity` an integer 0–3, `quality` `"ok"`/`"poor"`, `note` a
    /// string, `frame` an integer ≥ 0 (absent or null: the whole video), null = not assessed;
    /// unknown keys are refused (a misspelt field would otherwise be dropped silently).
    public static func jsonLines(_ text: String, file: String, as annotatorName: String? = nil) throws -> ImportRows {
        var rows = ImportRows()
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            if lineNumber == 1 && line.hasPrefix("\u{FEFF}") { line = line.dropFirst() }
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let place = "line \(lineNumber)"
            func fail(_ what: String) -> PleuraError { PleuraError(file: file, "\(place): \(what)") }
            let value = try JSONValue.parse(String(line), file: file, line: lineNumber)
            guard case .object(let object) = value else { throw fail("expected a JSON object, found \(value.typeName)") }
            func string(_ key: String, required: Bool = false) throws -> String? {
                switch object[key] {
                case nil, .null?:
                    if required { throw fail("\"\(key)\" is missing (a string)") }
                    return nil
                case .string(let s)?: return s
                case let other?: throw fail("\"\(key)\" must be a string, found \(other.typeName)")
                }
            }
            let kind = try string("kind") ?? "label"
            guard kind == "label" || kind == "rating" || kind == "prediction" else {
                throw fail("kind '\(kind)' cannot be imported (label, rating or prediction)")
            }
            let allowed = kind == "label" ? labelKeys : kind == "rating" ? ratingKeys : predictionKeys
            if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
                throw fail("unknown key \"\(unknown)\" for a \(kind) (known: \(allowed.sorted().joined(separator: ", ")))")
            }
            let sha = try string("sha256")
            guard let media = try string("media") ?? sha, !media.isEmpty else { throw fail("no media (give \"media\" or \"sha256\")") }
            var frame: Int? = nil
            switch object["frame"] {
            case nil, .null?: break
            case .int(let n)? where n >= 0: frame = n
            case let other?: throw fail("\"frame\" must be a whole number ≥ 0 or null, found \(other.serialized.prefix(40))")
            }
            if kind == "prediction" {
                // A number 0…1, never a string; `uncertainty` may be absent or null.
                func probability(_ key: String, required: Bool) throws -> Double? {
                    let d: Double
                    switch object[key] {
                    case nil, .null?:
                        if required { throw fail("\"\(key)\" is missing (a number 0…1)") }
                        return nil
                    case .int(let i)?: d = Double(i)
                    case .double(let x)?: d = x
                    case let other?: throw fail("\(key) must be a number 0…1, found \(other.serialized.prefix(40))")
                    }
                    guard d.isFinite, (0...1).contains(d) else { throw fail("\(key) \(d) is outside 0…1") }
                    return d
                }
                var texts: [String] = []
                for key in ["model", "head", "label"] {
                    guard let t = try string(key, required: true), !t.isEmpty else { throw fail("\"\(key)\" is empty") }
                    texts.append(t)
                }
                rows.predictions.append(.init(place: place, media: media, sha256: sha, frame: frame, model: texts[0], head: texts[1],
                                              className: texts[2], probability: try probability("probability", required: true)!,
                                              uncertainty: try probability("uncertainty", required: false)))
                continue
            }
            let named = try string("annotator")
            guard let annotator = annotatorName ?? named, !annotator.isEmpty else { throw fail("no annotator (give \"annotator\" or --as NAME)") }
            if kind == "label" {
                var set = LabelSet()
                for field in LabelField.allCases {
                    guard let v = object[field.rawValue], !v.isNull else { continue }
                    switch (field, v) {
                    case (.aLines, .bool(let b)), (.b1Lines, .bool(let b)), (.b2Lines, .bool(let b)), (.consolidation, .bool(let b)):
                        set[field.finding!] = b
                    case (.severity, .int(let n)) where Severity(rawValue: n) != nil:
                        set.severity = Severity(rawValue: n)
                    case (.quality, .string(let q)) where Quality(rawValue: q) != nil:
                        set.quality = Quality(rawValue: q)
                    case (.note, .string(let n)):
                        set.note = n.isEmpty ? nil : n
                    default:
                        let expected: String
                        switch field {
                        case .aLines, .b1Lines, .b2Lines, .consolidation: expected = "true, false or null"
                        case .severity: expected = "an integer 0–3 or null (not a string)"
                        case .quality: expected = "\"ok\", \"poor\" or null"
                        case .note: expected = "a string or null"
                        }
                        throw fail("\(field.rawValue) must be \(expected), found \(v.serialized.prefix(40))")
                    }
                }
                rows.labels.append(.init(place: place, media: media, sha256: sha, frame: frame, annotator: annotator, labels: set))
            } else {
                // Every rating key is a rating CSV column: the same row parser checks both files.
                let fields: [String]
                do { fields = try JSONLine.ratingFields(.object(object), media: media, annotator: annotator) }
                catch let e as JSONLine.JSONFieldError {
                    throw fail("\"\(e.name)\" has an unexpected type, found \(object[e.name]?.typeName ?? "nothing")")
                }
                // Numbers must be numbers: "rating": "2" is refused, not read as 2.
                switch object["rating"] {
                case nil, .null?, .int?: break
                case let other?: throw fail("rating must be an integer from -3 to 3 or null, found \(other.serialized.prefix(40))")
                }
                for key in ["opacity", "threshold", "seconds"] {
                    switch object[key] {
                    case nil, .null?, .int?, .double?: break
                    case let other?: throw fail("\(key) must be a number or null, found \(other.serialized.prefix(40))")
                    }
                }
                for key in ["model", "method", "target"] { _ = try string(key, required: true) }
                let record = try RatingRecord(fields: fields, file: file, line: lineNumber)
                rows.ratings.append(.init(place: place, media: media, sha256: sha, frame: frame, annotator: annotator, record: record))
            }
        }
        return rows
    }
}

extension AnnotationStore {
    /// Imports JSON Lines as ``exportLabelJSONLines(root:level:to:)`` and
    /// ``exportRatingJSONLines(root:to:)`` write them (`kind` `label` or `rating`; media by
    /// `sha256`, else by `media` path relative to `root`). All or nothing, errors name the line;
    /// the reader's rules are those of `ExchangeReader.jsonLines`.
    ///
    /// ```swift
    /// try store.importJSONLines(text: text, file: "labels.jsonl", root: ".")
    /// ```
    @discardableResult
    public func importJSONLines(text: String, file: String, root: String, as annotatorName: String? = nil) throws -> ImportSummary {
        let rows = try ExchangeReader.jsonLines(text, file: file, as: annotatorName)
        return try importRows(rows, file: file, root: root, defaultRole: rows.ratings.isEmpty ? .labeller : .rater)
    }
}
