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
    /// Headers of earlier versions that are still read: each a prefix of ``header``; rows under
    /// one get the missing trailing columns as empty fields.
    static var olderHeaders: [[String]] { get }
}

extension CanonicalCSVRecord {
    public static var olderHeaders: [[String]] { [] }

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
        // The header of the file: the current one or an older one (rows under an older header
        // get the missing trailing columns as empty fields).
        var used: [String]? = nil
        let widths = [header.count] + olderHeaders.map(\.count)
        try CSV.forEachRecord(text, file: file) { record in
            guard let columns = used else {
                if record.fields.first != header.first && widths.contains(record.fields.count) {
                    throw PleuraError(file: file, "line \(record.line): no header: the first line must be \(expected)")
                }
                guard record.fields == header || olderHeaders.contains(record.fields) else {
                    throw PleuraError(file: file, "line \(record.line): header must be exactly \(expected) (found \(record.fields.joined(separator: ",")))")
                }
                used = record.fields
                return
            }
            if record.fields == columns {
                throw PleuraError(file: file, "line \(record.line): the header appears again (files joined together? keep only the first header)")
            }
            guard columns.count == header.count || record.fields.count == columns.count else {
                throw PleuraError(file: file, "line \(record.line): expected \(columns.count) fields (\(columns.joined(separator: ","))), found \(record.fields.count)")
            }
            let fields = columns.count == header.count ? record.fields
                : record.fields + Array(repeating: "", count: header.count - columns.count)
            try body(try Self(fields: fields, file: file, line: record.line), record.line)
        }
        guard used != nil else { throw PleuraError(file: file, "empty file: expected the header \(expected)") }
    }

    /// Formats records as a whole CSV file, header first, LF line ends.
    public static func formatFile(_ records: [Self]) -> String {
        var out = CSV.formatRow(header)
        for r in records { out += CSV.formatRow(r.fields) }
        return out
    }
}
