import Foundation
import GRDB
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraStore
@testable import PleuraStorePostgres

/// The store's backends, for tests parameterised over both. PostgreSQL runs when
/// `PLEURA_TEST_PG_URL` names a server where the test role may create databases (`make test`
/// starts a throwaway cluster with Scripts/pg-cluster.sh); without it only SQLite runs and
/// `postgresServerIsThereForTheStoreTests` is reported skipped, saying why.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
    static var available: [StoreBackend] { TestPostgres.adminURL == nil ? [.sqlite] : [.sqlite, .postgres] }
}

enum TestPostgres {
    static let adminURL: String? = ProcessInfo.processInfo.environment["PLEURA_TEST_PG_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let missing = "skipped: PLEURA_TEST_PG_URL is not set, so the store tests ran on SQLite only (make test starts a PostgreSQL cluster: Scripts/pg-cluster.sh)"
    static var psql: String { TestEnv.which("psql") ?? "/usr/bin/psql" }

    /// A new, empty database on the test server; returns its URL (same user and host).
    static func freshDatabase() throws -> String {
        let admin = try #require(adminURL)
        let name = "pleura_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try sql(admin, "CREATE DATABASE \(name)")
        var parts = try #require(URLComponents(string: admin))
        parts.path = "/" + name
        return try #require(parts.string)
    }

    /// `url` as another role (psql and the store both read the user from the URL).
    static func url(_ url: String, user: String) throws -> String {
        var parts = try #require(URLComponents(string: url))
        parts.user = user
        return try #require(parts.string)
    }

    /// Runs SQL with psql (stop on the first error); returns unaligned, tuples-only output.
    @discardableResult
    static func sql(_ url: String, _ text: String) throws -> String {
        let r = try runProgram(psql, [url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-tA", "-c", text])
        if r.status != 0 { throw PleuraError(file: "psql", r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Test(.enabled(if: TestPostgres.adminURL != nil, "\(TestPostgres.missing)"))
func postgresServerIsThereForTheStoreTests() throws {
    let url = try #require(TestPostgres.adminURL)
    #expect(try TestPostgres.sql(url, "SELECT current_setting('server_version_num')::int >= 130000") == "t")
}

/// A fresh store on one backend with one registered clip, one labeller and a session.
struct BackendFixture {
    let backend: StoreBackend
    let store: any LabelStore
    /// The database URL (PostgreSQL) or file path (SQLite).
    let location: String
    let sha: String
    let alice: Annotator
    let session: StoreSession

    init(_ backend: StoreBackend) throws {
        self.backend = backend
        switch backend {
        case .sqlite:
            let dir = try TestEnv.makeTempDirectory("pleura-store")
            location = dir.appendingPathComponent("s.sqlite").path
            store = try AnnotationStore.open(path: location)
        case .postgres:
            location = try TestPostgres.freshDatabase()
            store = try PostgresStore.open(url: location)
        }
        sha = SHA256.hex(of: Array("clip one".utf8))
        try store.registerMedia(sha256: sha, path: "/data/clip1.mp4", facts: MediaFacts(kind: "video", frames: 100))
        alice = try store.annotator(named: "alice", role: .labeller)
        session = try store.beginSession(annotator: alice, name: "test", mode: "label")
    }

    func item(_ frame: Int?) -> ItemRef { ItemRef(mediaSHA256: sha, frame: frame) }

    /// Runs SQL behind the store's back, as its owner would with sqlite3 or psql.
    func rawSQL(_ sql: String) throws {
        switch backend {
        case .sqlite: try (store as! AnnotationStore).pool.write { try $0.execute(sql: sql) }
        case .postgres: try TestPostgres.sql(location, sql)
        }
    }
}
