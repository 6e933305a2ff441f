/// A row type of one of Pleura's canonical CSV files (labels, ratings): a fixed header and a
/// strict per-row parser. Whole-file parsing and formatting are shared, so every canonical file
/// reports a missing, wrong or repeated header the same way and round-trips byte for byte.
public protocol CanonicalCSVRecord {
    /// The exact column names, in order.
    static var header: [String] { get }
    /// The row's fields, in header order.
    var fields: [String] { get }
    /// Parses one data row; `file` and `line` name the place in errors.
    init(fields: [String], file: String, line: Int) throws
}

extension CanonicalCSVRecord {
    /// Parses a whole file (header required, exactly the canonical columns). All or nothing: the
    /// first bad row throws `PleuraError(file:, "line N: …")`.
    public static func parseFile(_ text: String, file: String) throws -> [Self] {
        var rows: [Self] = []
        try forEachRow(text, file: file) { row, _ in rows.append(row) }
        return rows
    }

    /// Streams the data rows of a whole file with their 1-based line numbers (one pass, nothing
    /// but the current row held). The header rules and errors are those of ``parseFile(_:file:)``;
    /// a file with a header and no rows is fine here (the caller decides whether that is an error).
    public static func forEachRow(_ text: String, file: String, _ body: (Self, Int) throws -> Void) throws {
        let expected = header.joined(separator: ",")
        var sawHeader = false
        try CSV.forEachRecord(text, file: file) { record in
            if !sawHeader {
                if record.fields.first != header.first && record.fields.count == header.count {
                    throw PleuraError(file: file, "line \(record.line): no header: the first line must be \(expected)")
                }
                guard record.fields == header else {
                    throw PleuraError(file: file, "line \(record.line): header must be exactly \(expected) (found \(record.fields.joined(separator: ",")))")
                }
                sawHeader = true
                return
            }
            if record.fields == header {
                throw PleuraError(file: file, "line \(record.line): the header appears again (files joined together? keep only the first header)")
            }
            try body(try Self(fields: record.fields, file: file, line: record.line), record.line)
        }
        guard sawHeader else { throw PleuraError(file: file, "empty file: expected the header \(expected)") }
    }

    /// Formats records as a whole CSV file, header first, LF line ends.
    public static func formatFile(_ records: [Self]) -> String {
        var out = CSV.formatRow(header)
        for r in records { out += CSV.formatRow(r.fields) }
        return out
    }
}
