import Foundation
import PleuraCore
import PleuraStore
import PostgresNIO

/// A bound parameter of a query (the few types the store's columns have).
enum PGArg {
    case int(Int64?)
    case text(String?)
    case real(Double?)
    case uuid(UUID)
}

/// One connection to the server behind a synchronous façade: the store's API is synchronous (as
/// GRDB's is), so each call blocks on postgres-nio's future, on a private event loop thread.
/// Calls are serialised by a lock (one connection per store object; processes are the unit of
/// concurrency, as with SQLite). A dropped connection is reopened by the next call.
final class PostgresLink: @unchecked Sendable {
    let location: PostgresLocation
    /// One event loop thread shared by every store of the process; never shut down (it lives
    /// as long as the process, like GRDB's connections).
    private static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private static let nextID = NSLock()
    nonisolated(unsafe) private static var counter = 0
    private let lock = NSRecursiveLock()
    private var connection: PostgresConnection?
    private let logger: Logger = {
        var l = Logger(label: "pleura.store.postgres")
        l.logLevel = .critical   // errors reach the user as PleuraError lines, not as log output
        return l
    }()

    init(location: PostgresLocation) { self.location = location }

    deinit { _ = try? connection?.close().wait() }

    /// True inside ``transaction(_:)``: a connection lost then is an error, never silently
    /// replaced (the rest of the transaction would run outside it, statement by statement).
    private var inTransaction = false

    /// Runs `body` with the lock held and a live connection.
    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        lock.lock(); defer { lock.unlock() }
        if connection == nil || connection!.isClosed {
            if inTransaction { throw PostgresConnectionLost() }
            connection = try connect()
        }
        return try body(connection!)
    }

    /// Runs `body` (which sends BEGIN … COMMIT) on one connection, with the lock held throughout.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try withConnection { _ in
            inTransaction = true
            defer { inTransaction = false }
            return try body()
        }
    }

    /// Closes the connection (the next call opens a new one): after an error that leaves the
    /// connection in an unknown state.
    func drop() {
        lock.lock(); defer { lock.unlock() }
        // Not waited for: a connection in the state `answer` gives up on may never confirm its close.
        let _: EventLoopFuture<Void>? = connection?.close()
        connection = nil
    }

    private func connect() throws -> PostgresConnection {
        let password = location.password()
        var config: PostgresConnection.Configuration
        if location.isUnixSocket {
            config = .init(unixSocketPath: location.socketPath, username: location.user, password: password,
                           database: location.database)
        } else {
            config = .init(host: location.host, port: location.port, username: location.user, password: password,
                           database: location.database, tls: try Self.tls(location.sslMode))
        }
        config.options.connectTimeout = .seconds(10)
        Self.nextID.lock(); Self.counter += 1; let id = Self.counter; Self.nextID.unlock()
        let connection = try PostgresConnection.connect(on: Self.group.next(), configuration: config, id: id,
                                                        logger: logger).wait()
        // Durable before confirmed, whatever the role's or server's default says; UTC for now().
        for setting in ["SET synchronous_commit = on", "SET TIME ZONE 'UTC'", "SET application_name = 'pleura'"] {
            _ = try connection.query(PostgresQuery(unsafeSQL: setting), logger: logger).wait()
        }
        return connection
    }

    /// libpq's sslmode as postgres-nio TLS: `disable` none; `allow`/`prefer` TLS when the server
    /// offers it; `require` TLS without checking the certificate (libpq does the same without a
    /// root certificate); `verify-ca` checks the chain; `verify-full` the chain and the host name.
    static func tls(_ mode: PostgresLocation.SSLMode) throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable: return .disable
        case .allow, .prefer:
            tls.certificateVerification = .none
            return .prefer(try NIOSSLContext(configuration: tls))
        case .require:
            tls.certificateVerification = .none
            return .require(try NIOSSLContext(configuration: tls))
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return .require(try NIOSSLContext(configuration: tls))
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            return .require(try NIOSSLContext(configuration: tls))
        }
    }

    /// Runs one statement with `$1…` parameters and returns all its rows.
    @discardableResult
    func query(_ sql: String, _ args: [PGArg] = []) throws -> [PostgresRow] {
        try withConnection { c in
            var binds = PostgresBindings(capacity: args.count)
            for a in args {
                switch a {
                case .int(let v): binds.append(v)
                case .text(let v): binds.append(v)
                case .real(let v): binds.append(v)
                case .uuid(let v): binds.append(v)
                }
            }
            return try Self.answer(c.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger), from: c).rows
        }
    }

    /// No statement of the store waits this long for a lock or its answer: past it the
    /// connection counts as lost (and the write is retried, which its request id makes safe).
    static let answerTimeout: TimeAmount = .seconds(120)

    /// Waits for a statement's answer, but not on a connection that is gone. postgres-nio can
    /// leave a query's future pending for ever when the server drops the connection at the wrong
    /// moment: under `pg_ctl restart -m immediate` a writer stayed blocked in `wait()` for
    /// minutes, its socket closed and no server process left for it (PostgresRestartTests). So
    /// the wait also ends, as a lost connection, once the connection is closed (checked every
    /// 200 ms on its event loop) or after ``answerTimeout``.
    private static func answer(_ future: EventLoopFuture<PostgresQueryResult>,
                               from connection: PostgresConnection) throws -> PostgresQueryResult {
        let loop = future.eventLoop
        let promise = loop.makePromise(of: PostgresQueryResult.self)
        future.cascade(to: promise)   // a late answer after a failure is ignored by the promise
        let started = NIODeadline.now()
        let watch = loop.scheduleRepeatedTask(initialDelay: .milliseconds(200), delay: .milliseconds(200)) { task in
            if connection.isClosed || NIODeadline.now() - started > answerTimeout {
                promise.fail(PostgresConnectionLost())
                task.cancel()
            }
        }
        defer { watch.cancel() }
        return try promise.futureResult.wait()
    }

    /// Runs SQL text with several statements and no parameters (migrations, role set-up), one
    /// statement at a time: postgres-nio sends every query as a prepared statement, which holds one.
    func script(_ sql: String) throws {
        for statement in Self.statements(sql) { try query(statement) }
    }

    /// `sql` split at the semicolons that end statements (not inside `$$ … $$` bodies, quotes or
    /// `--` comments).
    static func statements(_ sql: String) -> [String] {
        var out: [String] = [], current = "", inDollar = false, inQuote = false, inComment = false
        var previous: Character = " "
        for c in sql {
            current.append(c)
            if inComment { if c == "\n" { inComment = false }; previous = c; continue }
            if !inDollar && !inQuote && c == "-" && previous == "-" { inComment = true }
            else if !inQuote && c == "$" && previous == "$" { inDollar.toggle(); previous = " "; continue }
            else if !inDollar && c == "'" { inQuote.toggle() }
            else if !inDollar && !inQuote && c == ";" {
                let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if s != ";" { out.append(s) }
                current = ""
            }
            previous = c
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { out.append(rest) }
        return out
    }
}

/// The connection broke inside a transaction, or a COMMIT's reply was lost (the test hook).
struct PostgresConnectionLost: Error {}

/// What went wrong on the server, by SQLSTATE class, for the retry decision and the message.
enum PostgresFailure {
    /// The connection broke (or the server is restarting): the outcome of an in-flight commit is
    /// unknown; reconnect and retry (idempotent writes make that safe).
    case connectionLost
    /// Serialization failure or deadlock: the transaction was rolled back; retry.
    case retryable
    /// Anything else: report it.
    case fatal

    static func classify(_ error: any Error) -> PostgresFailure {
        if let e = error as? PSQLError {
            switch e.code {
            case .serverClosedConnection, .connectionError, .uncleanShutdown, .clientClosedConnection:
                return .connectionLost
            case .server:
                let state = e.serverInfo?[.sqlState] ?? ""
                if state == "40001" || state == "40P01" { return .retryable }
                // 08: connection exception; 57P01-03: the server is shutting down or starting up.
                if state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state) { return .connectionLost }
                return .fatal
            default:
                return .fatal
            }
        }
        if error is PostgresConnectionLost { return .connectionLost }
        if error is NIOConnectionError || error is ChannelError || error is IOError { return .connectionLost }
        return .fatal
    }

    /// One line a user can act on (`what is wrong; what to do`), without the password.
    static func message(_ error: any Error, location: PostgresLocation) -> PleuraError {
        let at = location.description
        if let e = error as? PSQLError {
            let state = e.serverInfo?[.sqlState] ?? ""
            let text = e.serverInfo?[.message] ?? String(describing: e.code)
            switch (e.code, state) {
            case (.server, "28P01"), (.server, "28000"):
                return PleuraError(file: at, "the server refused user \(location.user) (\(text)); put the password in ~/.pgpass (host:port:database:user:password, mode 0600), PGPASSFILE or PGPASSWORD")
            case (.server, "3D000"):
                return PleuraError(file: at, "database \(location.database) does not exist; create it (createdb \(location.database)) and run `pleura store init \(at)`")
            case (.server, "42501"):
                return PleuraError(file: at, "refused by the server: \(text) (your role lacks that right; ask the store's owner)")
            case (.server, "P0001"), (.server, "23505"), (.server, "23503"), (.server, "23514"):
                return PleuraError(file: at, "refused by the store: \(text)")
            case (.authMechanismRequiresPassword, _):
                return PleuraError(file: at, "the server asks user \(location.user) for a password; put it in ~/.pgpass (host:port:database:user:password, mode 0600), PGPASSFILE or PGPASSWORD")
            case (.server, _):
                return PleuraError(file: at, "database error \(state): \(text)")
            default:
                break
            }
        }
        switch classify(error) {
        case .connectionLost:
            return PleuraError(file: at, "cannot reach the server (\(error)); check that it runs and listens there")
        default:
            return PleuraError(file: at, "database error: \(error)")
        }
    }
}

extension PostgresRow {
    /// Column `i` decoded as `T` (nil for SQL NULL when `T` is optional).
    func at<T: PostgresDecodable>(_ i: Int, _ type: T.Type = T.self) throws -> T {
        try makeRandomAccess()[i].decode(T.self)
    }
}
