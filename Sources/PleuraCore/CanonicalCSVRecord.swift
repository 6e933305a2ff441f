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
        let records = try CSV.parse(text, file: file)
        let expected = header.joined(separator: ",")
        guard let head = records.first else { throw PleuraError(file: file, "empty file: expected the header \(expected)") }
        let widths = [header.count] + olderHeaders.map(\.count)
        if head.fields.first != header.first && widths.contains(head.fields.count) {
            throw PleuraError(file: file, "line \(head.line): no header: the first line must be \(expected)")
        }
        guard head.fields == header || olderHeaders.contains(head.fields) else {
            throw PleuraError(file: file, "line \(head.line): header must be exactly \(expected) (found \(head.fields.joined(separator: ",")))")
        }
        let used = head.fields
        return try records.dropFirst().map {
            if $0.fields == used {
                throw PleuraError(file: file, "line \($0.line): the header appears again (files joined together? keep only the first header)")
            }
            guard used.count == header.count || $0.fields.count == used.count else {
                throw PleuraError(file: file, "line \($0.line): expected \(used.count) fields (\(used.joined(separator: ","))), found \($0.fields.count)")
            }
            let padded = $0.fields + Array(repeating: "", count: header.count - used.count)
            return try Self(fields: padded, file: file, line: $0.line)
        }
    }

    /// Formats records as a whole CSV file, header first, LF line ends.
    public static func formatFile(_ records: [Self]) -> String {
        var out = CSV.formatRow(header)
        for r in records { out += CSV.formatRow(r.fields) }
        return out
    }
}
