import Foundation
import PleuraCore
import PleuraStore

/// Where a PostgreSQL store lives: `postgresql://user@host:port/database?sslmode=…`, read as libpq
/// reads it (defaults from `PGUSER`, `PGHOST`, `PGPORT`, `PGDATABASE`, `PGSSLMODE`; a host that
/// starts with `/`, or `?host=/dir`, is the folder of the server's Unix socket).
///
/// A password is never part of the location: a URL with one is refused, because `--store` lands
/// in shell history and a session's `store` in a file others read. The password comes from
/// `PGPASSWORD` or the password file (`PGPASSFILE`, else `~/.pgpass`), as for psql.
///
/// ```swift
/// let where = try PostgresLocation(url: "postgresql://alice@db.ward3:5432/pleura?sslmode=verify-full")
/// where.description   // "postgresql://alice@db.ward3:5432/pleura?sslmode=verify-full"
/// ```
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// libpq's `sslmode` names.
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var user: String
    /// A host name or address, or the folder holding the Unix socket (starts with `/`).
    public var host: String
    public var port: Int
    public var database: String
    public var sslMode: SSLMode

    /// Whether `text` names a PostgreSQL store rather than an SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    public var isUnixSocket: Bool { host.hasPrefix("/") }
    /// The socket file libpq would use: `HOST/.s.PGSQL.PORT`.
    public var socketPath: String { host + "/.s.PGSQL.\(port)" }

    /// The location as a URL without any secret (safe for messages and session files).
    public var description: String {
        let hostPart = isUnixSocket ? "" : (host.contains(":") ? "[\(host)]" : host)
        var query: [String] = []
        if isUnixSocket { query.append("host=" + host) }
        if sslMode != .prefer && !isUnixSocket { query.append("sslmode=" + sslMode.rawValue) }
        return "postgresql://\(user)@\(hostPart):\(port)/\(database)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// Parses a `postgresql://` URL; throws a one-line ``PleuraError`` when it holds a password,
    /// is malformed, or names an unknown `sslmode`.
    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let shown = Self.redacted(url)
        guard Self.isURL(url), let parts = URLComponents(string: url) else {
            throw PleuraError(file: shown, "not a PostgreSQL URL (write postgresql://user@host:port/database)")
        }
        if parts.password != nil {
            throw PleuraError(file: shown, "a password in the store URL would be kept in shell history and session files; remove it and put it in ~/.pgpass (host:port:database:user:password, mode 0600), PGPASSFILE or PGPASSWORD")
        }
        var query: [String: String] = [:]
        for item in parts.queryItems ?? [] { query[item.name] = item.value ?? "" }
        if query["password"] != nil {
            throw PleuraError(file: shown, "a password in the store URL would be kept in shell history and session files; remove password= and put it in ~/.pgpass, PGPASSFILE or PGPASSWORD")
        }
        let known: Set<String> = ["host", "port", "user", "dbname", "sslmode", "application_name", "connect_timeout"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw PleuraError(file: shown, "unknown parameter \(unknown) in the store URL (Pleura reads host, port, user, dbname, sslmode)")
        }
        let os = OSIdentity.current.user
        user = query["user"] ?? parts.user?.removingPercentEncoding ?? environment["PGUSER"] ?? os
        let urlHost = (parts.percentEncodedHost?.removingPercentEncoding).flatMap { $0.isEmpty ? nil : $0 }
        host = query["host"] ?? urlHost ?? environment["PGHOST"] ?? "/var/run/postgresql"
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let portText = query["port"] ?? parts.port.map(String.init) ?? environment["PGPORT"] ?? "5432"
        guard let p = Int(portText), (1...65535).contains(p) else {
            throw PleuraError(file: shown, "port \(portText) is not a port number (1-65535)")
        }
        port = p
        let path = parts.path.hasPrefix("/") ? String(parts.path.dropFirst()) : parts.path
        database = query["dbname"] ?? (path.isEmpty ? nil : path.removingPercentEncoding) ?? environment["PGDATABASE"] ?? user
        let modeText = query["sslmode"] ?? environment["PGSSLMODE"] ?? "prefer"
        guard let mode = SSLMode(rawValue: modeText) else {
            throw PleuraError(file: shown, "sslmode \(modeText) is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        sslMode = mode
    }

    /// The password for this location: `PGPASSWORD`, else the first matching line of the password
    /// file (`PGPASSFILE`, else `~/.pgpass`; ignored, as libpq does, when group or others may
    /// read it). Nil when neither has one (the server may not ask).
    public func password(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let p = environment["PGPASSWORD"] { return p }
        let file = environment["PGPASSFILE"] ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.pgpass")
        var st = stat()
        guard stat(file, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_mode & 0o077 == 0,
              let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return Self.passwordFileMatch(text, host: isUnixSocket ? "localhost" : host, port: port, database: database, user: user)
    }

    /// The password of the first `hostname:port:database:username:password` line that matches
    /// (`*` matches anything; `\:` and `\\` escape), as libpq reads a password file.
    static func passwordFileMatch(_ text: String, host: String, port: Int, database: String, user: String) -> String? {
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = String(raw)
            if line.hasPrefix("#") || line.isEmpty { continue }
            var fields: [String] = [], current = "", escaped = false
            for c in line {
                if escaped { current.append(c); escaped = false }
                else if c == "\\" { escaped = true }
                else if c == ":" && fields.count < 4 { fields.append(current); current = "" }
                else { current.append(c) }
            }
            fields.append(current)
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// `url` with any password replaced by `…`, so an error message never repeats it.
    static func redacted(_ url: String) -> String {
        url.replacingOccurrences(of: #"://([^:/@?]*):[^@/?]*@"#, with: "://$1:…@", options: .regularExpression)
            .replacingOccurrences(of: #"password=[^&]*"#, with: "password=…", options: .regularExpression)
    }
}
