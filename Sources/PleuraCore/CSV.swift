/// RFC 4180 CSV: quoted fields with commas, quotes and newlines; CRLF or LF line ends; a UTF-8 BOM
/// at the start is skipped. Writing always produces LF line ends and quotes only where needed, so
/// that export → import → export is byte-identical.
public enum CSV {
    /// One parsed record and the 1-based line of the file it starts on (for error messages).
    public struct Record: Equatable, Sendable {
        public var fields: [String]
        public var line: Int
    }

    /// Parses a whole file. Throws `PleuraError(file:, "line N: …")` on an unterminated quote or a
    /// stray quote inside an unquoted field.
    public static func parse(_ text: String, file: String) throws -> [Record] {
        var records: [Record] = []
        try forEachRecord(text, file: file) { records.append($0) }
        return records
    }

    /// Streams the records of a whole file to `body`, one at a time, so a large file is never held
    /// as records all at once. Same rules and errors as ``parse(_:file:)``.
    public static func forEachRecord(_ text: String, file: String, _ body: (Record) throws -> Void) throws {
        var text = text
        try text.withUTF8 { try forEachRecord(utf8: $0, file: file, body) }
    }

    /// The byte-level parser behind ``forEachRecord(_:file:_:)``: RFC 4180 over UTF-8 bytes (quotes,
    /// commas, CR and LF are ASCII, so multi-byte characters never need decoding to be split).
    public static func forEachRecord(utf8 bytes: UnsafeBufferPointer<UInt8>, file: String,
                                     _ body: (Record) throws -> Void) throws {
        let quote: UInt8 = 0x22, comma: UInt8 = 0x2C, cr: UInt8 = 0x0D, lf: UInt8 = 0x0A
        let n = bytes.count
        var i = 0
        if n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { i = 3 }   // UTF-8 BOM
        var fields: [String] = []
        var field: [UInt8] = []
        field.reserveCapacity(256)
        var inQuotes = false
        var fieldWasQuoted = false
        var atFieldStart = true
        var line = 1
        var recordLine = 1
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
            atFieldStart = true
        }
        func endRecord() throws {
            endField()
            // A completely empty line is not a record.
            if !(fields.count == 1 && fields[0].isEmpty) { try body(Record(fields: fields, line: recordLine)) }
            fields.removeAll(keepingCapacity: true)
        }
        while i < n {
            let c = bytes[i]
            if inQuotes {
                if c == quote {
                    if i + 1 < n && bytes[i + 1] == quote { field.append(quote); i += 2; continue }
                    inQuotes = false; i += 1; continue
                }
                if c == lf { line += 1 }
                field.append(c); i += 1; continue
            }
            switch c {
            case quote:
                guard atFieldStart else {
                    throw PleuraError(file: file, "line \(line): a quote inside an unquoted field (quote the whole field and double inner quotes)")
                }
                inQuotes = true; fieldWasQuoted = true; atFieldStart = false
            case comma:
                endField()
            case cr:
                if i + 1 < n && bytes[i + 1] == lf { i += 1 }
                try endRecord(); line += 1; recordLine = line
            case lf:
                try endRecord(); line += 1; recordLine = line
            default:
                if fieldWasQuoted {
                    throw PleuraError(file: file, "line \(line): text after a closing quote")
                }
                field.append(c); atFieldStart = false
            }
            i += 1
        }
        if inQuotes { throw PleuraError(file: file, "line \(recordLine): a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { try endRecord() }
    }

    /// Formats one field: quoted when it holds a comma, quote, CR or LF, or starts/ends with space.
    public static func escape(_ field: String) -> String {
        let needsQuotes = field.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
            || field.hasPrefix(" ") || field.hasSuffix(" ")
        guard needsQuotes else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One line (with its LF).
    public static func formatRow(_ fields: [String]) -> String {
        fields.map(escape).joined(separator: ",") + "\n"
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
