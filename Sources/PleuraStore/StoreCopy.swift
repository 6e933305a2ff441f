import Foundation
import GRDB
import PleuraCore

// `pleura store copy SRC DST` and the store digest (issue 14): a whole store moved between
// backends, rows and ids unchanged, and checked by a digest both backends compute the same way.
//
// Everything backend-independent lives here: which tables and columns are carried, the rows'
// canonical encoding, the digest, the emptiness and "cannot carry" rules and the copy loop. A
// backend only reads rows of a table in id order and inserts rows (``StoreCopyEndpoint``);
// SQLite's side is at the bottom of this file, PostgreSQL's in PleuraStorePostgres.

/// One value of a carried row: the types the store's columns have.
public enum StoreValue: Sendable, Hashable {
    case null
    case int(Int64)
    case real(Double)
    case text(String)
}

/// A column's type as both schemas declare it (SQLite INTEGER/REAL/TEXT, PostgreSQL
/// bigint/double precision/text).
public enum StoreColumnType: Sendable {
    case int, real, text
}

/// A table ``StoreCopy`` carries: its name and the columns both backends have, in order.
public struct CarriedTable: Sendable {
    public let name: String
    public let columns: [(name: String, type: StoreColumnType)]
    /// For `event`: the positions of the current-state key (media, frame, annotator, context,
    /// field). A backend that inserts many rows per statement must not put two events of one key
    /// in the same statement: the row triggers that derive `current_value` run at the end of the
    /// statement, when the older event's trigger would already see the newer one and refuse.
    public var currentStateKey: [Int]? = nil

    init(name: String, columns: [(name: String, type: StoreColumnType)], currentStateKey: [Int]? = nil) {
        self.name = name
        self.columns = columns
        self.currentStateKey = currentStateKey
    }

    /// The columns as an SQL list (the same text on both backends).
    public var columnList: String { columns.map(\.name).joined(separator: ", ") }
}

/// A store a copy reads from or writes into: a consistent snapshot to read every carried table
/// from, and one write transaction to fill an empty store in.
public protocol StoreCopyEndpoint: AnyObject {
    /// For messages: the file path, or the URL without a password.
    var location: String { get }
    /// What makes two endpoints the same store (a resolved file path; server, port and database).
    var copyIdentity: String { get }
    /// Runs `body` on one read snapshot: every table read inside it is of the same moment.
    func withCopySnapshot<T>(_ body: (any StoreRowReader) throws -> T) throws -> T
    /// Runs `body` in one write transaction that excludes every other writer, committed when it
    /// returns and rolled back when it throws.
    func withCopyTransaction<T>(_ body: (any StoreRowWriter) throws -> T) throws -> T
}

/// Reads rows of the store's tables (inside a snapshot or a transaction).
public protocol StoreRowReader {
    /// The number of rows of table `name`; 0 when this backend has no such table.
    func rowCount(_ name: String) throws -> Int
    /// Every row of `table` in id order, `batch` rows at a time, values in `table.columns` order.
    func rows(of table: CarriedTable, batch: Int, _ each: ([[StoreValue]]) throws -> Void) throws
}

/// Reads, and inserts rows exactly as given (ids included), through the store's own constraints
/// and triggers (so `current_value` is derived from the inserted events as for any write).
public protocol StoreRowWriter: StoreRowReader {
    func insert(_ rows: [[StoreValue]], into table: CarriedTable) throws
}

/// The digest of a store's carried tables: per table its row count and SHA-256 over the rows'
/// canonical encoding in id order, and one SHA-256 over those. The same store gives the same
/// digest on either backend (that is what ``StoreCopy/copy(from:to:progress:)`` checks).
public struct StoreDigest: Sendable, Equatable {
    public struct Table: Sendable, Equatable {
        public var name: String
        public var rows: Int
        public var sha256: String
    }
    public var tables: [Table]

    /// SHA-256 over the lines `name rows sha256`, one per table in copy order.
    public var sha256: String {
        SHA256.hex(of: Array(tables.map { "\($0.name) \($0.rows) \($0.sha256)\n" }.joined().utf8))
    }

    /// `digest 1a2b… (3 media, 3 media_path, …)`: for `pleura store verify` and `store copy`.
    public var summary: String {
        "digest \(sha256) (" + tables.map { "\($0.rows) \($0.name)" }.joined(separator: ", ") + ")"
    }

    /// Accumulates the digest while rows stream past (a copy hashes what it writes, never
    /// holding a table in memory).
    struct Builder {
        private var current: (name: String, rows: Int, hash: SHA256)?
        private(set) var tables: [Table] = []

        mutating func begin(_ table: CarriedTable) {
            finishTable()
            current = (table.name, 0, SHA256())
        }

        mutating func add(_ rows: [[StoreValue]]) {
            var bytes: [UInt8] = []
            for row in rows { StoreDigest.encode(row, into: &bytes) }
            current!.hash.update(bytes)
            current!.rows += rows.count
        }

        mutating func finish() -> StoreDigest {
            finishTable()
            return StoreDigest(tables: tables)
        }

        private mutating func finishTable() {
            if let c = current { tables.append(Table(name: c.name, rows: c.rows, sha256: c.hash.hexDigest())) }
            current = nil
        }
    }

    /// A row's canonical bytes: per value a tag, then `N`; `I` decimal `;`; `R` the IEEE 754 bit
    /// pattern in hex `;` (exact: no decimal rounding); `T` UTF-8 length `:` bytes; then `\n`.
    /// Length-prefixed text makes the encoding unambiguous whatever the text holds.
    static func encode(_ row: [StoreValue], into bytes: inout [UInt8]) {
        for value in row {
            switch value {
            case .null: bytes.append(UInt8(ascii: "N"))
            case .int(let v): bytes += Array("I\(v);".utf8)
            case .real(let v): bytes += Array("R\(String(v.bitPattern, radix: 16));".utf8)
            case .text(let s):
                let utf8 = Array(s.utf8)
                bytes += Array("T\(utf8.count):".utf8)
                bytes += utf8
            }
        }
        bytes.append(UInt8(ascii: "\n"))
    }
}

public enum StoreCopy {
    /// The tables a copy carries, parents before children, with the columns both backends have.
    /// Not carried, by design: `current_value` (derived: the destination's triggers rebuild it
    /// from the copied events), PostgreSQL's `write_request` / `event.request_id` (retry
    /// bookkeeping of the writes that made the events) and `annotator.db_role` (a server role; the
    /// copy's rows get the copying role), SQLite's `store_secret` (each store makes its own key).
    public static let tables: [CarriedTable] = [
        CarriedTable(name: "media", columns: [
            ("id", .int), ("sha256", .text), ("kind", .text), ("container", .text), ("codec", .text),
            ("width", .int), ("height", .int), ("fps", .real), ("frames", .int), ("bytes", .int),
            ("registered_at", .text), ("os_user", .text), ("uid", .int)]),
        CarriedTable(name: "media_path", columns: [
            ("id", .int), ("media_id", .int), ("path", .text), ("seen_at", .text), ("os_user", .text), ("uid", .int)]),
        CarriedTable(name: "annotator", columns: [
            ("id", .int), ("name", .text), ("role", .text), ("created_at", .text), ("os_user", .text), ("uid", .int)]),
        CarriedTable(name: "session", columns: [
            ("id", .int), ("annotator_id", .int), ("name", .text), ("mode", .text), ("started_at", .text),
            ("os_user", .text), ("uid", .int), ("host", .text), ("pid", .int), ("pleura_version", .text)]),
        CarriedTable(name: "heatmap_context", columns: [
            ("id", .int), ("model_sha256", .text), ("method", .text), ("layer", .text), ("target", .text),
            ("heatmap_sha256", .text)]),
        CarriedTable(name: "rating_context", columns: [
            ("id", .int), ("heatmap_context_id", .int), ("trial", .text), ("slot", .text), ("scale", .text),
            ("colormap", .text), ("opacity", .text), ("threshold", .text)]),
        CarriedTable(name: "event", columns: [
            ("id", .int), ("action_id", .int), ("kind", .text), ("reverts", .int), ("at", .text),
            ("annotator_id", .int), ("session_id", .int), ("os_user", .text), ("uid", .int), ("media_id", .int),
            ("frame", .int), ("context_id", .int), ("field", .text), ("old_value", .text), ("new_value", .text)],
            currentStateKey: [9, 10, 5, 11, 12]),
    ]

    /// Tables with history that the PostgreSQL schema does not hold yet: a store with rows in
    /// any of them is refused, never copied in part.
    public static let notCarried: [(table: String, what: String)] = [
        ("review", "trainee reviews"), ("prediction", "model predictions"), ("heatmap", "stored heatmaps"),
        ("media_exam", "exam assignments"),
    ]

    /// Rows per batch read and written (bounded memory for any store size).
    static let batch = 2_000

    /// The digest of the store `reader` sees.
    public static func digest(_ reader: any StoreRowReader) throws -> StoreDigest {
        var builder = StoreDigest.Builder()
        for table in tables {
            builder.begin(table)
            try reader.rows(of: table, batch: batch) { builder.add($0) }
        }
        return builder.finish()
    }

    /// Copies every carried table of `source` into the empty store `destination` in one
    /// transaction, then computes the destination's digest inside that transaction and commits
    /// only when it equals the source's. Refuses (changing nothing) the same store twice, a
    /// source holding what cannot be carried, and a destination that is not empty.
    /// `progress(done, total)` counts rows, called after each batch.
    @discardableResult
    public static func copy(from source: any StoreCopyEndpoint, to destination: any StoreCopyEndpoint,
                            progress: (Int, Int) -> Void = { _, _ in }) throws -> StoreDigest {
        guard source.copyIdentity != destination.copyIdentity else {
            throw PleuraError(file: destination.location, "is the source store itself: give an empty store to copy into")
        }
        return try source.withCopySnapshot { reader in
            let held = try notCarried.compactMap { entry -> String? in
                let n = try reader.rowCount(entry.table)
                return n > 0 ? "\(n) \(entry.what)" : nil
            }
            if !held.isEmpty {
                throw PleuraError(file: source.location, "holds \(held.joined(separator: ", ")), which store copy cannot carry yet (the PostgreSQL schema has no place for them); nothing was copied")
            }
            let total = try tables.reduce(0) { $0 + (try reader.rowCount($1.name)) }
            return try destination.withCopyTransaction { writer in
                let present = try (tables.map(\.name) + notCarried.map(\.table)).compactMap { name -> String? in
                    let n = try writer.rowCount(name)
                    return n > 0 ? "\(n) \(name)" : nil
                }
                if !present.isEmpty {
                    throw PleuraError(file: destination.location, "is not empty (\(present.joined(separator: ", "))): store copy writes only into a new or empty store; nothing was copied")
                }
                var builder = StoreDigest.Builder()
                var done = 0
                for table in tables {
                    builder.begin(table)
                    try reader.rows(of: table, batch: batch) { rows in
                        try writer.insert(rows, into: table)
                        builder.add(rows)
                        done += rows.count
                        progress(done, total)
                    }
                }
                let expected = builder.finish()
                let written = try digest(writer)
                if written != expected {
                    let differing = zip(expected.tables, written.tables).filter { $0 != $1 }.map { $0.0.name }
                    throw PleuraError(file: destination.location, "the copy's digest differs from the source's in \(differing.joined(separator: ", ")): rolled back, nothing was copied")
                }
                return expected
            }
        }
    }
}

// MARK: - SQLite

extension AnnotationStore: StoreCopyEndpoint {
    public var copyIdentity: String { "file:" + URL(fileURLWithPath: path).resolvingSymlinksInPath().path }

    public func withCopySnapshot<T>(_ body: (any StoreRowReader) throws -> T) throws -> T {
        try read { db in try body(SQLiteRows(db: db)) }
    }

    public func withCopyTransaction<T>(_ body: (any StoreRowWriter) throws -> T) throws -> T {
        try write { db in try body(SQLiteRows(db: db)) }
    }
}

/// Rows of an SQLite store, on one connection inside its transaction.
struct SQLiteRows: StoreRowWriter {
    let db: Database

    func rowCount(_ name: String) throws -> Int {
        guard try db.tableExists(name) else { return 0 }
        return try Int.fetchOne(db, sql: "SELECT count(*) FROM \(name)") ?? 0
    }

    func rows(of table: CarriedTable, batch: Int, _ each: ([[StoreValue]]) throws -> Void) throws {
        let cursor = try Row.fetchCursor(db, sql: "SELECT \(table.columnList) FROM \(table.name) ORDER BY id")
        var rows: [[StoreValue]] = []
        rows.reserveCapacity(batch)
        while let row = try cursor.next() {
            rows.append(table.columns.enumerated().map { i, column in
                // Read by the declared type, as PostgreSQL's typed columns are, so both sides
                // encode the same value the same way.
                switch column.type {
                case .int: return (row[i] as Int64?).map(StoreValue.int) ?? .null
                case .real: return (row[i] as Double?).map(StoreValue.real) ?? .null
                case .text: return (row[i] as String?).map(StoreValue.text) ?? .null
                }
            })
            if rows.count == batch { try each(rows); rows.removeAll(keepingCapacity: true) }
        }
        if !rows.isEmpty { try each(rows) }
    }

    func insert(_ rows: [[StoreValue]], into table: CarriedTable) throws {
        let marks = Array(repeating: "?", count: table.columns.count).joined(separator: ", ")
        let statement = try db.cachedStatement(sql: "INSERT INTO \(table.name) (\(table.columnList)) VALUES (\(marks))")
        for row in rows {
            try statement.execute(arguments: StatementArguments(row.map { value -> DatabaseValue in
                switch value {
                case .null: return .null
                case .int(let v): return v.databaseValue
                case .real(let v): return v.databaseValue
                case .text(let v): return v.databaseValue
                }
            }))
        }
    }
}
