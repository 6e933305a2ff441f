import Foundation
import GRDB
import PleuraCore

/// The annotation store: one SQLite file that many annotators, each in their own process, share.
///
/// Every method that changes data is one short write transaction, committed (with
/// `synchronous=FULL`, so it survives power loss) before the method returns. History is an
/// append-only event log; current labels are derived from it; undo appends inverse events. Busy
/// databases are retried with backoff, so "database is locked" never reaches a user: after
/// ``busyTimeout`` seconds of waiting the caller gets a ``PleuraError`` saying who to wait for.
///
/// Thread safety: an `AnnotationStore` may be used from any thread (reads run concurrently,
/// writes are serialised within the process and across processes by SQLite's write lock).
///
/// ```swift
/// let store = try AnnotationStore.open(path: "labels.sqlite")
/// let media = try store.registerMedia(sha256: sha, path: "/data/clip.mp4",
///                                     facts: MediaFacts(kind: "video", width: 640, height: 480, frames: 120))
/// let me = try store.annotator(named: "alice", role: .labeller)
/// let session = try store.beginSession(annotator: me, name: "ward 3", mode: "label")
/// let item = ItemRef(mediaSHA256: media.sha256, frame: 12)
/// try store.setLabel(item: item, field: .severity, value: .severity(Severity(rawValue: 2)!),
///                    annotator: me, session: session)
/// try store.currentLabels(item: item, annotator: me).severity   // 2
/// try store.undo(annotator: me, session: session)               // appends severity 2 → empty
/// ```
public final class AnnotationStore: Sendable {
    /// The database file (absolute path).
    public let path: String
    /// How long a write waits for other processes in total before giving up, in seconds.
    public let busyTimeout: Double
    let pool: DatabasePool
    let mediaIDs = MediaIDCache()

    private init(path: String, pool: DatabasePool, busyTimeout: Double) {
        self.path = path
        self.pool = pool
        self.busyTimeout = busyTimeout
    }

    /// Opens the store at `path`, creating it (mode 0660: group-writable, never world-writable)
    /// when it does not exist, and bringing an older schema up to date.
    ///
    /// Throws a ``PleuraError`` naming the file when it is not an SQLite database, is an SQLite
    /// database of another program, was written by a newer Pleura (the file is then not touched),
    /// cannot be created or written, or stays locked by another process for `busyTimeout` seconds.
    ///
    /// ```swift
    /// let store = try AnnotationStore.open(path: "/srv/pleura/ward3.sqlite")
    /// ```
    public static func open(path: String, busyTimeout: Double = 60) throws -> AnnotationStore {
        if path.hasPrefix("postgresql://") || path.hasPrefix("postgres://") {
            // Commands written against the LabelStore protocol open URLs with PostgresStore.
            throw PleuraError(file: path.replacingOccurrences(of: #"://[^/@]*@"#, with: "://…@", options: .regularExpression),
                              "this command does not run on a PostgreSQL store yet (see README, Store → PostgreSQL); give an SQLite store file")
        }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        try createIfMissing(absolute)
        try inspectBeforeWriting(absolute)

        var config = Configuration()
        config.label = "PleuraStore"
        // Each individual SQLite wait is short; `withRetry` adds backoff and the overall timeout,
        // and turns what is left into a readable error.
        config.busyMode = .timeout(2)
        config.foreignKeysEnabled = true
        config.maximumReaderCount = 4
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let pool: DatabasePool
        do {
            pool = try retrying(absolute, timeout: busyTimeout) {
                try DatabasePool(path: absolute, configuration: config)
            }
        } catch let error as DatabaseError {
            throw translate(error, path: absolute)
        }
        let store = AnnotationStore(path: absolute, pool: pool, busyTimeout: busyTimeout)
        // GRDB's WAL set-up picks synchronous=NORMAL on the writer; the store promises FULL.
        try store.writeRaw { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try store.migrate()
        try store.ensureStoreSecret()   // the key of its patient pseudonyms (Exams.swift)
        return store
    }

    /// The schema version this Pleura writes (`PRAGMA user_version`).
    public static var schemaVersion: Int { Schema.currentVersion }

    // MARK: - Opening

    private static func createIfMissing(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw PleuraError(file: path, "is a folder, not a store file (give a file name such as labels.sqlite)") }
            return
        }
        let folder = (path as NSString).deletingLastPathComponent
        guard FileManager.default.fileExists(atPath: folder) else {
            throw PleuraError(file: path, "folder \(folder) does not exist: create it first")
        }
        // O_EXCL: when several processes create the store at once, exactly one creates the file.
        let fd = Glibc.open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o660)
        if fd < 0 {
            if errno == EEXIST { return }
            throw PleuraError(file: path, "cannot create the store: \(String(cString: strerror(errno)))")
        }
        // fchmod ignores the umask: group members must be able to write (SQLite gives the -wal and
        // -shm files the same mode), others never.
        fchmod(fd, 0o660)
        close(fd)
    }

    /// Decides from the file's 100-byte header alone, before SQLite opens it, whether the file
    /// may be opened: a foreign or newer file is refused without a single byte written and
    /// without the `-wal`/`-shm` side files that even a read-only SQLite connection to a WAL-mode
    /// file creates. The header's `user_version` (offset 60), `application_id` (68) and schema
    /// cookie (40) are current whenever no `-wal` file exists (the last connection checkpointed
    /// it); when one exists, another connection is using the store and a read-only connection
    /// reads the pragmas through it (the side files are there already).
    private static func inspectBeforeWriting(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw PleuraError(file: path, "cannot read the store: permission denied (ask for group read/write access)")
        }
        let header = [UInt8]((try? handle.read(upToCount: 100)) ?? Data())
        try? handle.close()
        if header.isEmpty { return }   // just created, or created by a process that is initialising it
        guard header.count >= 16, header.prefix(16).elementsEqual("SQLite format 3\0".utf8) else {
            throw PleuraError(file: path, "not a Pleura store: the file is not an SQLite database (give a new file name to create a store)")
        }
        guard header.count == 100 else {
            throw PleuraError(file: path, "not a Pleura store: the SQLite header is cut short (the file is damaged or not a database)")
        }
        func int32(at offset: Int) -> Int32 {
            Int32(bitPattern: UInt32(header[offset]) << 24 | UInt32(header[offset + 1]) << 16
                  | UInt32(header[offset + 2]) << 8 | UInt32(header[offset + 3]))
        }
        var appID = int32(at: 68), version = Int(int32(at: 60)), hasSchema = int32(at: 40) != 0
        if FileManager.default.fileExists(atPath: path + "-wal") {
            var config = Configuration()
            config.readonly = true
            config.busyMode = .timeout(2)
            do {
                (appID, version, hasSchema) = try retrying(path, timeout: 60) {
                    let queue = try DatabaseQueue(path: path, configuration: config)
                    return try queue.read { db in
                        (try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0,
                         try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0,
                         (try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0) > 0)
                    }
                }
            } catch let error as DatabaseError {
                throw translate(error, path: path)
            }
        }
        if appID != Schema.applicationID && appID != 0 {
            throw PleuraError(file: path, "not a Pleura store: an SQLite database of another program (application id \(appID)); Pleura did not change it")
        }
        if appID == 0 && hasSchema {
            throw PleuraError(file: path, "not a Pleura store: an SQLite database with other tables; Pleura did not change it")
        }
        if version > Schema.currentVersion {
            throw PleuraError(file: path, "written by a newer Pleura (store schema \(version), this Pleura \(PleuraVersion.string) knows up to \(Schema.currentVersion)): upgrade Pleura to open it; the file was not changed")
        }
    }

    private func migrate() throws {
        try write(kind: .immediate) { db in
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            if version > Schema.currentVersion {
                // Another process upgraded the file between our check and now.
                throw PleuraError(file: self.path, "written by a newer Pleura (store schema \(version), this Pleura knows up to \(Schema.currentVersion)): upgrade Pleura to open it")
            }
            guard version < Schema.currentVersion else { return }
            if version == 0 {
                try db.execute(sql: "PRAGMA application_id = \(Schema.applicationID)")
            }
            for number in (version + 1)...Schema.currentVersion {
                try db.execute(sql: Schema.migrations[number - 1])
            }
            try db.execute(sql: "PRAGMA user_version = \(Schema.currentVersion)")
        }
    }

    // MARK: - Transactions with retry

    /// Runs `body` in one write transaction (BEGIN IMMEDIATE: the write lock is taken up front,
    /// so a busy database is waited for instead of failing half-way), committed before returning.
    func write<T>(kind: Database.TransactionKind = .immediate, _ body: (Database) throws -> T) throws -> T {
        try writeRaw { db in
            var result: T?
            try db.inTransaction(kind) {
                result = try body(db)
                return .commit
            }
            return result!
        }
    }

    /// Runs `body` on the writer connection outside a transaction, with retry.
    func writeRaw<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try Self.retrying(path, timeout: busyTimeout) {
                try self.pool.writeWithoutTransaction(body)
            }
        } catch let error as DatabaseError {
            throw Self.translate(error, path: path)
        }
    }

    /// Runs `body` on a reader connection (a consistent snapshot), with retry.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try Self.retrying(path, timeout: busyTimeout) { try self.pool.read(body) }
        } catch let error as DatabaseError {
            throw Self.translate(error, path: path)
        }
    }

    /// Retries `body` while SQLite says busy or locked, with exponential backoff and jitter (2 ms
    /// doubling to 250 ms), for at most `timeout` seconds in total.
    static func retrying<T>(_ path: String, timeout: Double, _ body: () throws -> T) throws -> T {
        let start = Measure.now()
        var delay = 0.002
        while true {
            do {
                return try body()
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
                if Measure.now() - start > timeout {
                    throw PleuraError(file: path, "the store stayed busy for \(Int(timeout)) s: another Pleura process holds its write lock (see `fuser \(path)`); nothing was lost, try again")
                }
                usleep(UInt32((delay * Double.random(in: 0.5...1.5)) * 1e6))
                delay = min(delay * 2, 0.25)
            }
        }
    }

    /// One line a user can act on, for SQLite errors that are not "busy".
    static func translate(_ error: DatabaseError, path: String) -> PleuraError {
        switch error.resultCode {
        case .SQLITE_NOTADB:
            return PleuraError(file: path, "not a Pleura store: the file is not an SQLite database")
        case .SQLITE_CORRUPT:
            return PleuraError(file: path, "the store is damaged (\(error.message ?? "corrupt")): restore it from a backup")
        case .SQLITE_READONLY:
            return PleuraError(file: path, "the store is read-only for you: writing needs group write permission on the file and its folder")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return PleuraError(file: path, "cannot open the store: \(error.message ?? "permission denied") (check permissions on the file and its folder)")
        case .SQLITE_FULL:
            return PleuraError(file: path, "the disk is full: the change was not saved; free space and try again")
        case .SQLITE_IOERR:
            return PleuraError(file: path, "input/output error (\(error.message ?? "I/O")): the change was not saved")
        case .SQLITE_CONSTRAINT:
            return PleuraError(file: path, "refused by the store: \(error.message ?? "constraint failed")")
        default:
            return PleuraError(file: path, "database error: \(error.message ?? error.description)")
        }
    }

    // MARK: - Checks

    /// Result of `PRAGMA integrity_check` ("ok" when the file is sound).
    public func integrityCheck() throws -> String {
        try read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }

    /// Recomputes current values from the event log and compares them with the current-state
    /// table; returns the number of keys that disagree (0 when the cache is faithful).
    ///
    /// ```swift
    /// precondition(try store.verifyCurrentState() == 0)
    /// ```
    public func verifyCurrentState() throws -> Int {
        try read { db in
            try Int.fetchOne(db, sql: """
                WITH newest AS (
                    SELECT media_id, frame, annotator_id, context_id, field, max(id) AS id
                    FROM event GROUP BY media_id, frame, annotator_id, context_id, field)
                SELECT
                  (SELECT count(*) FROM newest JOIN event e ON e.id = newest.id
                     LEFT JOIN current_value c ON c.media_id = e.media_id AND c.frame = e.frame
                       AND c.annotator_id = e.annotator_id AND c.context_id = e.context_id AND c.field = e.field
                     WHERE c.event_id IS NOT e.id OR c.value IS NOT e.new_value)
                + abs((SELECT count(*) FROM newest) - (SELECT count(*) FROM current_value))
                """) ?? 0
        }
    }

    /// What ``verify()`` found: the store is sound when ``problems`` is empty.
    public struct Verification: Sendable, Equatable {
        /// `PRAGMA quick_check` ("ok" when the file is sound).
        public var quickCheck: String
        /// Protecting triggers that are missing (dropped by hand with sqlite3).
        public var missingTriggers: [String]
        /// Keys of `current_value` that disagree with the event log (``verifyCurrentState()``).
        public var currentStateMismatches: Int
        /// Events in the log.
        public var events: Int

        /// One line per problem, for `pleura store verify` and `pleura doctor --store`.
        public var problems: [String] {
            var out: [String] = []
            if quickCheck != "ok" { out.append("the file is damaged (quick_check: \(quickCheck)): restore it from a backup") }
            if !missingTriggers.isEmpty {
                out.append("protecting triggers are missing (\(missingTriggers.joined(separator: ", "))): the file was changed outside Pleura")
            }
            if currentStateMismatches > 0 {
                out.append("\(currentStateMismatches) current label/rating \(currentStateMismatches == 1 ? "value disagrees" : "values disagree") with the event log: the derived table was changed outside Pleura (exports would not match the history)")
            }
            return out
        }
    }

    /// Checks the store cheaply and completely enough to trust an export: SQLite's quick check,
    /// that every protecting trigger is in place, and that `current_value` equals what the event
    /// log says (one grouped pass over the log: about a second per million events).
    public func verify() throws -> Verification {
        let quick = try read { db in try String.fetchAll(db, sql: "PRAGMA quick_check").joined(separator: "; ") }
        let present = Set(try read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger'") })
        let missing = Schema.protectingTriggers.filter { !present.contains($0) }
        return Verification(quickCheck: quick, missingTriggers: missing, currentStateMismatches: try verifyCurrentState(),
                            events: try eventCount())
    }

    /// The SQLite settings in force on the writer, for tests and `pleura doctor`.
    public func pragmas() throws -> [String: String] {
        try writeRaw { db in
            var out: [String: String] = [:]
            for name in ["journal_mode", "synchronous", "foreign_keys", "user_version", "application_id"] {
                out[name] = try String.fetchOne(db, sql: "PRAGMA \(name)")
            }
            return out
        }
    }
}

/// Who is at the keyboard: the OS user name and uid recorded beside every change.
public struct OSIdentity: Sendable, Equatable {
    public var user: String
    public var uid: Int

    /// The identity of this process.
    public static let current: OSIdentity = {
        let uid = getuid()
        if let pw = getpwuid(uid), let name = pw.pointee.pw_name {
            return OSIdentity(user: String(cString: name), uid: Int(uid))
        }
        return OSIdentity(user: ProcessInfo.processInfo.environment["USER"] ?? "uid\(uid)", uid: Int(uid))
    }()
}

/// Timestamps as the store writes them: UTC ISO 8601 with milliseconds, e.g.
/// `2026-11-27T15:42:25.123Z` (sorts as text in time order).
public enum StoreClock {
    public static func now() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(tv.tv_usec / 1000), 3))Z"
    }
}

/// sha256 → media row id. Media rows are never deleted or changed, so a cached id stays true.
final class MediaIDCache: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [String: Int64] = [:]
    func get(_ sha: String) -> Int64? { lock.lock(); defer { lock.unlock() }; return ids[sha] }
    func set(_ sha: String, _ id: Int64) { lock.lock(); ids[sha] = id; lock.unlock() }
}
