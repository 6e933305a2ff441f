import Foundation
import PleuraCore
import PleuraStore
import PostgresNIO

/// The annotation store on a PostgreSQL server (issue 14): the ``LabelStore`` promises of the
/// SQLite store, kept by the server (see ``PostgresSchema``).
///
/// Every writing method is one transaction that first takes the store's advisory lock (writers
/// are serialised, as SQLite's are), reads old values inside it, and returns only after the
/// server confirmed `COMMIT` with `synchronous_commit = on`. A dropped connection or a
/// serialization failure is retried with backoff for ``busyTimeout`` seconds; each action carries
/// a client-made id (`write_request`), so a commit whose reply was lost is found on retry and
/// never appended twice.
///
/// ```swift
/// let store = try PostgresStore.open(url: "postgresql://alice@db.ward3/pleura")
/// let me = try store.annotator(named: "alice", role: .labeller)
/// ```
public final class PostgresStore: LabelStore, @unchecked Sendable {
    public let location: String
    public let target: PostgresLocation
    /// How long a write keeps retrying a lost server, in seconds.
    public let busyTimeout: Double
    let link: PostgresLink
    /// Tests only: after the next successful COMMIT, drop the connection and report it lost, as
    /// when the server's reply never arrives (the retry must find the commit, not repeat it).
    var loseNextCommitReply = false
    private let state = NSLock()

    private init(target: PostgresLocation, busyTimeout: Double) {
        self.target = target
        self.location = target.description
        self.busyTimeout = busyTimeout
        self.link = PostgresLink(location: target)
    }

    /// The schema version this Pleura writes on PostgreSQL.
    public static var schemaVersion: Int { PostgresSchema.currentVersion }

    /// Connects, and creates the schema in an empty database or brings an older one up to date.
    /// Refuses, changing nothing, a database written by a newer Pleura or holding another program's
    /// tables; a URL with a password (see ``PostgresLocation``).
    public static func open(url: String, busyTimeout: Double = 60) throws -> PostgresStore {
        let store = PostgresStore(target: try PostgresLocation(url: url), busyTimeout: busyTimeout)
        try store.migrate()
        return store
    }

    /// ``open(url:busyTimeout:)``, then the group roles `pleura_annotator` and `pleura_blind_rater`
    /// and their rights on this database (needs a role that may create roles; `pleura store init`).
    public static func initialize(url: String) throws -> PostgresStore {
        let store = try open(url: url)
        try store.run { try $0.script(PostgresSchema.roles(database: store.target.database)) }
        return store
    }

    // MARK: - Schema

    /// The version recorded in the database: 0 for an empty one; nil when it holds other tables.
    func recordedVersion() throws -> Int? { try run(Self.recordedVersion) }

    /// Both facts come from one scan of the catalog (`pg_tables`), never from a name lookup such
    /// as `to_regclass`: a name lookup answers from the backend's catalog cache, which is brought
    /// up to date only when the backend takes a relation lock or starts a transaction, and
    /// `pg_advisory_xact_lock` is neither. So a process that looked for `schema_migration`
    /// before another created the schema, then waited for the write lock, still "did not see" the
    /// table after the lock while a scan of `pg_tables` saw it: 8 writers creating one new
    /// database were told "the database holds other tables" (measured with two psql sessions on
    /// PostgreSQL 15). A scan reads the catalog with the statement's own snapshot, so under the
    /// lock it sees every committed migration. (A migration is one transaction, so a schema is
    /// never seen half made.)
    static func recordedVersion(_ link: PostgresLink) throws -> Int? {
        let row = try link.query("""
            SELECT count(*) FILTER (WHERE tablename = 'schema_migration'), count(*)
            FROM pg_catalog.pg_tables WHERE schemaname = 'public'
            """)[0]
        if try row.at(0, Int.self) > 0 {
            // Naming the table locks it, which brings the cache up to date first.
            return try link.query("SELECT coalesce(max(version), 0) FROM schema_migration")[0].at(0, Int.self)
        }
        return try row.at(1, Int.self) == 0 ? 0 : nil
    }

    private func migrate() throws {
        func check(_ version: Int?) throws -> Int {
            guard let version else {
                throw PleuraError(file: location, "not a Pleura store: the database holds other tables; Pleura did not change it (give an empty database)")
            }
            if version > PostgresSchema.currentVersion {
                throw PleuraError(file: location, "written by a newer Pleura (store schema \(version), this Pleura \(PleuraVersion.string) knows up to \(PostgresSchema.currentVersion)): upgrade Pleura to open it; the database was not changed")
            }
            return version
        }
        // Outside the lock a database another process is creating can look half made (its
        // tables, not yet its version row, between two statements): only a newer version or
        // an up-to-date one is decided here; "other tables" is decided under the lock.
        let outside = try recordedVersion()
        if let outside { if try check(outside) == PostgresSchema.currentVersion { return } }
        try write(request: nil) { link in
            // Another process may have migrated between the check and the lock.
            let version = try check(Self.recordedVersion(link))
            guard version < PostgresSchema.currentVersion else { return }
            for number in (version + 1)...PostgresSchema.currentVersion {
                try link.script(PostgresSchema.migrations[number - 1])
                try link.query("INSERT INTO schema_migration (version, applied_at, pleura_version) VALUES ($1, $2, $3)",
                               [.int(Int64(number)), .text(StoreClock.now()), .text(PleuraVersion.string)])
            }
        }
    }

    // MARK: - Transactions with retry

    /// Runs `body` on the connection, translating errors into one readable line.
    func run<T>(_ body: (PostgresLink) throws -> T) throws -> T {
        do {
            return try retrying { try body(link) }
        } catch let e as PleuraError {
            throw e
        } catch {
            throw PostgresFailure.message(error, location: target)
        }
    }

    /// Runs `body` in one writing transaction holding the store's advisory lock, committed
    /// (and confirmed by the server) before returning. With a `request` id, `done` is asked first
    /// on every retry: when the request committed already (its reply was lost), its answer is
    /// returned instead of running `body` again.
    func write<T>(request: UUID?, done: ((PostgresLink) throws -> T?)? = nil,
                  _ body: (PostgresLink) throws -> T) throws -> T {
        try run { link in
            try link.transaction {
                do {
                    try link.script("BEGIN ISOLATION LEVEL READ COMMITTED")
                    try link.query("SELECT pg_advisory_xact_lock($1)", [.int(PostgresSchema.writeLock)])
                    if let request, let done,
                       !(try link.query("SELECT 1 FROM write_request WHERE id = $1", [.uuid(request)]).isEmpty),
                       let answer = try done(link) {
                        try link.script("COMMIT")
                        return answer
                    }
                    let result = try body(link)
                    try link.script("COMMIT")
                    if loseNextCommitReply {
                        loseNextCommitReply = false
                        link.drop()
                        throw PostgresConnectionLost()
                    }
                    return result
                } catch {
                    if PostgresFailure.classify(error) == .connectionLost { link.drop() }
                    else { try? link.script("ROLLBACK") }
                    throw error
                }
            }
        }
    }

    /// Reads (each statement sees committed data), with retry.
    func read<T>(_ body: (PostgresLink) throws -> T) throws -> T { try run(body) }

    /// Retries `body` while the connection is lost or the transaction had to be rolled back,
    /// with exponential backoff and jitter (5 ms doubling to 500 ms) for ``busyTimeout`` seconds.
    private func retrying<T>(_ body: () throws -> T) throws -> T {
        let start = Measure.now()
        var delay = 0.005
        while true {
            do {
                return try body()
            } catch {
                let kind = PostgresFailure.classify(error)
                if kind == .fatal { throw error }
                if kind == .connectionLost { link.drop() }
                if Measure.now() - start > busyTimeout {
                    throw PleuraError(file: location, "the server stayed unreachable for \(Int(busyTimeout)) s (\(PostgresFailure.message(error, location: target).reason)); nothing reported saved was lost, try again")
                }
                usleep(UInt32((delay * Double.random(in: 0.5...1.5)) * 1e6))
                delay = min(delay * 2, 0.5)
            }
        }
    }

    // MARK: - Checks

    /// What ``verify()`` found: sound when ``problems`` is empty.
    public struct Verification: Sendable, Equatable {
        public var schemaVersion: Int
        public var missingTriggers: [String]
        public var currentStateMismatches: Int
        public var events: Int

        public var problems: [String] {
            var out: [String] = []
            if !missingTriggers.isEmpty {
                out.append("protecting triggers are missing (\(missingTriggers.joined(separator: ", "))): the database was changed outside Pleura")
            }
            if currentStateMismatches > 0 {
                out.append("\(currentStateMismatches) current label/rating values disagree with the event log: the derived table was changed outside Pleura")
            }
            return out
        }
    }

    /// Schema version, protecting triggers present, current state against the log.
    public func verify() throws -> Verification {
        let triggers = Set(try read { link in
            try link.query("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").map { try $0.at(0, String.self) }
        })
        return Verification(schemaVersion: try recordedVersion() ?? 0,
                            missingTriggers: PostgresSchema.protectingTriggers.filter { !triggers.contains($0) },
                            currentStateMismatches: try verifyCurrentState(), events: try eventCount())
    }

    /// What the connected role may do, for `pleura doctor --store`: its name, whether it owns the
    /// tables (can migrate), may append events, may change history (must be false for annotators:
    /// the triggers refuse it anyway), and whether it is a blinded rater.
    public struct RoleRights: Sendable, Equatable {
        public var role: String
        public var serverVersion: String
        public var synchronousCommit: String
        public var isOwner: Bool
        public var canAppend: Bool
        public var canUpdateOrDelete: Bool
        public var isBlindedRater: Bool
    }

    public func roleRights() throws -> RoleRights {
        try read { link in
            let row = try link.query("""
                SELECT current_user::text, current_setting('server_version'), current_setting('synchronous_commit'),
                       pg_has_role(current_user, (SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'event'), 'USAGE'),
                       has_table_privilege('public.event', 'INSERT'),
                       has_table_privilege('public.event', 'UPDATE') OR has_table_privilege('public.event', 'DELETE'),
                       pleura_is_blinded()
                """)[0]
            return RoleRights(role: try row.at(0), serverVersion: try row.at(1), synchronousCommit: try row.at(2),
                              isOwner: try row.at(3), canAppend: try row.at(4), canUpdateOrDelete: try row.at(5),
                              isBlindedRater: try row.at(6))
        }
    }
}

