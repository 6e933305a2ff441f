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
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var inQuotes = false
        var fieldWasQuoted = false
        var line = 1
        var recordLine = 1
        var atFieldStart = true
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        var i = 0
        func endField() {
            fields.append(String(field))
            field = String.UnicodeScalarView()
            fieldWasQuoted = false
            atFieldStart = true
        }
        func endRecord() {
            endField()
            // A completely empty line is not a record.
            if !(fields.count == 1 && fields[0].isEmpty) { records.append(Record(fields: fields, line: recordLine)) }
            fields = []
        }
        while i < scalars.count {
            let c = scalars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < scalars.count && scalars[i + 1] == "\"" { field.append("\""); i += 2; continue }
                    inQuotes = false; i += 1; continue
                }
                if c == "\n" { line += 1 }
                if c == "\r" && i + 1 < scalars.count && scalars[i + 1] == "\n" { field.append("\r"); field.append("\n"); line += 1; i += 2; continue }
                field.append(c); i += 1; continue
            }
            switch c {
            case "\"":
                guard atFieldStart else {
                    throw PleuraError(file: file, "line \(line): a quote inside an unquoted field (quote the whole field and double inner quotes)")
                }
                inQuotes = true; fieldWasQuoted = true; atFieldStart = false
            case ",":
                endField()
            case "\r":
                if i + 1 < scalars.count && scalars[i + 1] == "\n" { i += 1 }
                endRecord(); line += 1; recordLine = line
            case "\n":
                endRecord(); line += 1; recordLine = line
            default:
                if fieldWasQuoted {
                    throw PleuraError(file: file, "line \(line): text after a closing quote")
                }
                field.append(c); atFieldStart = false
            }
            i += 1
        }
        if inQuotes { throw PleuraError(file: file, "line \(recordLine): a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { endRecord() }
        return records
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
