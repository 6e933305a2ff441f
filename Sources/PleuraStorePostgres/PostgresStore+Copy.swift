import Foundation
import PleuraCore
import PleuraStore
import PostgresNIO

/// `pleura store copy` and the digest on PostgreSQL: rows read in id order from one snapshot,
/// inserted in multi-row statements inside the writing transaction (advisory lock held, so no
/// writer can slip in between the emptiness check and the commit). The rules are StoreCopy's.
extension PostgresStore: StoreCopyEndpoint {
    public var copyIdentity: String { "postgresql:\(target.host):\(target.port)/\(target.database)" }

    /// One REPEATABLE READ, READ ONLY transaction: every table read inside it is of one moment.
    /// A role that row-level security restricts (a blinded rater) is refused: other raters'
    /// ratings would be hidden from it, and the copy (or digest) silently incomplete.
    public func withCopySnapshot<T>(_ body: (any StoreRowReader) throws -> T) throws -> T {
        try read { link in
            try link.transaction {
                try link.script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                do {
                    // Hidden rows only where row-level security applies: not for a superuser, a
                    // role with BYPASSRLS or the tables' owner (pg_has_role answers "member" for a
                    // superuser, so pleura_is_blinded() alone would refuse the cluster's superuser).
                    if try link.query("""
                        SELECT pleura_is_blinded() AND NOT r.rolsuper AND NOT r.rolbypassrls
                               AND NOT pg_has_role(current_user, t.tableowner, 'USAGE')
                        FROM pg_roles r, pg_tables t
                        WHERE r.rolname = current_user AND t.schemaname = 'public' AND t.tablename = 'event'
                        """).first?.at(0, Bool.self) ?? false {
                        throw PleuraError(file: location, "role \(target.user) is a blinded rater and sees only its own ratings: copy or digest the store as its owner")
                    }
                    let result = try body(PostgresRows(link: link))
                    try link.script("COMMIT")
                    return result
                } catch {
                    if PostgresFailure.classify(error) == .connectionLost { link.drop() } else { try? link.script("ROLLBACK") }
                    throw error
                }
            }
        }
    }

    public func withCopyTransaction<T>(_ body: (any StoreRowWriter) throws -> T) throws -> T {
        try write(request: nil) { link in try body(PostgresRows(link: link)) }
    }
}

/// Rows of a PostgreSQL store on the link's open transaction.
struct PostgresRows: StoreRowWriter {
    let link: PostgresLink
    /// The tables this schema has (a name outside it counts 0 rows, as the protocol says).
    private static let tables = Set(PostgresSchema.historyTables + ["current_value"])
    /// PostgreSQL takes at most 65,535 parameters per statement.
    private static let maxParameters = 60_000

    func rowCount(_ name: String) throws -> Int {
        guard Self.tables.contains(name) else { return 0 }
        return try link.query("SELECT count(*) FROM \(name)")[0].at(0, Int.self)
    }

    func rows(of table: CarriedTable, batch: Int, _ each: ([[StoreValue]]) throws -> Void) throws {
        // Keyset pages (id > the last one seen) on the primary key; rating_context ids are negative.
        var after = Int64.min
        while true {
            let page = try link.query("SELECT \(table.columnList) FROM \(table.name) WHERE id > $1 ORDER BY id LIMIT \(batch)",
                                      [.int(after)])
            if page.isEmpty { return }
            let rows: [[StoreValue]] = try page.map { row in
                let cells = row.makeRandomAccess()
                return try table.columns.enumerated().map { i, column in
                    switch column.type {
                    case .int: return try cells[i].decode(Int64?.self).map(StoreValue.int) ?? .null
                    case .real: return try cells[i].decode(Double?.self).map(StoreValue.real) ?? .null
                    case .text: return try cells[i].decode(String?.self).map(StoreValue.text) ?? .null
                    }
                }
            }
            guard case .int(let last) = rows[rows.count - 1][0] else { return }
            try each(rows)
            if page.count < batch { return }
            after = last
        }
    }

    func insert(_ rows: [[StoreValue]], into table: CarriedTable) throws {
        let width = table.columns.count
        let perStatement = max(1, Self.maxParameters / width)
        var start = 0
        while start < rows.count {
            // A statement ends before the parameter limit, and (events) before a second event of
            // a current-state key already in it (see CarriedTable.currentStateKey).
            var end = start
            var keys = Set<[StoreValue]>()
            while end < rows.count && end - start < perStatement {
                if let positions = table.currentStateKey {
                    guard keys.insert(positions.map { rows[end][$0] }).inserted else { break }
                }
                end += 1
            }
            let chunk = rows[start..<end]
            var args: [PGArg] = []
            args.reserveCapacity(chunk.count * width)
            var tuples: [String] = []
            for row in chunk {
                let base = args.count
                tuples.append("(" + (1...width).map { "$\(base + $0)" }.joined(separator: ", ") + ")")
                for (value, column) in zip(row, table.columns) {
                    // A NULL still needs its column's type (the server infers parameter types).
                    switch (value, column.type) {
                    case (.int(let v), _): args.append(.int(v))
                    case (.real(let v), _): args.append(.real(v))
                    case (.text(let v), _): args.append(.text(v))
                    case (.null, .int): args.append(.int(nil))
                    case (.null, .real): args.append(.real(nil))
                    case (.null, .text): args.append(.text(nil))
                    }
                }
            }
            try link.query("INSERT INTO \(table.name) (\(table.columnList)) VALUES " + tuples.joined(separator: ", "), args)
            start += chunk.count
        }
    }
}
