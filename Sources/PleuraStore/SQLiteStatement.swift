import GRDB
import GRDBSQLite

/// A prepared statement stepped through the SQLite C API, for the import's hot loop only.
///
/// An import of 300,000 label rows appends about a million events; binding each through GRDB's
/// `StatementArguments` (an array of boxed values per row) cost about as much CPU as SQLite's own
/// insert (perf profile, issue 15). Here parameters are bound in place, and parameters that do
/// not change between rows (timestamp, OS user) are bound once: `sqlite3_reset` keeps bindings.
/// The statement belongs to the write transaction it was made in; errors become GRDB's
/// `DatabaseError`, so ``AnnotationStore/translate(_:path:)`` words them like any other.
struct SQLiteStatement {
    /// GRDB's statement owns (and finalises) the SQLite handle.
    private let statement: Statement
    private let connection: OpaquePointer?
    private var handle: OpaquePointer { statement.sqliteStatement }

    init(_ db: Database, sql: String) throws {
        statement = try db.makeStatement(sql: sql)
        connection = db.sqliteConnection
    }

    /// SQLite copies the bytes (SQLITE_TRANSIENT), so the Swift string need not outlive the call.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Binds the 1-based parameter `index`.
    func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }
    func bind(_ index: Int32, _ value: Int) { sqlite3_bind_int64(handle, index, Int64(value)) }
    func bind(_ index: Int32, _ value: Double?) {
        if let value { sqlite3_bind_double(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }
    func bind(_ index: Int32, _ value: String?) {
        guard var value else { sqlite3_bind_null(handle, index); return }
        // A nil pointer would bind NULL: the empty string gets a literal's.
        guard !value.isEmpty else { sqlite3_bind_text(handle, index, "", 0, Self.transient); return }
        value.withUTF8 { bytes in
            _ = bytes.withMemoryRebound(to: CChar.self) {
                sqlite3_bind_text(handle, index, $0.baseAddress, Int32($0.count), Self.transient)
            }
        }
    }

    /// Runs the statement to completion (an INSERT), then resets it for the next row.
    func run() throws {
        let code = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard code == SQLITE_DONE else { throw error(code) }
    }

    /// Steps a query, calling `row` with each result row, then resets it.
    func forEachRow(_ row: (SQLiteStatement) throws -> Void) throws {
        defer { sqlite3_reset(handle) }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw error(code) }
            try row(self)
        }
    }

    /// Column `index` (0-based) of the current row as text; nil for NULL.
    func text(_ index: Int32) -> String? {
        guard let bytes = sqlite3_column_text(handle, index) else { return nil }
        return String(cString: bytes)
    }

    private func error(_ code: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code),
                      message: connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) },
                      sql: statement.sql)
    }
}
