import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraStore
@testable import PleuraStorePostgres

// What only the PostgreSQL backend has: URLs and passwords, schema versions on a server, roles,
// row-level security, retries across a lost connection. The promises both backends share are
// tested by the parameterised tests (StoreBackend).

private let needsServer = Testing.ConditionTrait.enabled(if: TestPostgres.adminURL != nil, "\(TestPostgres.missing)")

@Test func postgresURLWithPasswordIsRefusedWithoutRepeatingIt() throws {
    for url in ["postgresql://alice:s3cret@db.example:5432/pleura", "postgresql://alice@db.example/pleura?password=s3cret"] {
        let error = try #require(throws: PleuraError.self) { try PostgresLocation(url: url, environment: [:]) }
        #expect(!error.description.contains("s3cret"))
        #expect(error.reason.contains("~/.pgpass") && error.reason.contains("PGPASSWORD"))
    }
    #expect(throws: PleuraError.self) { try PostgresLocation(url: "postgresql://a@h/db?sslmode=sometimes", environment: [:]) }
    #expect(throws: PleuraError.self) { try PostgresLocation(url: "postgresql://a@h:99999/db", environment: [:]) }
}

@Test func postgresURLIsReadAsLibpqReadsIt() throws {
    let tcp = try PostgresLocation(url: "postgresql://alice@db.example:6543/ward3?sslmode=verify-full", environment: [:])
    #expect(tcp.user == "alice" && tcp.host == "db.example" && tcp.port == 6543 && tcp.database == "ward3")
    #expect(tcp.sslMode == .verifyFull && !tcp.isUnixSocket)
    #expect(tcp.description == "postgresql://alice@db.example:6543/ward3?sslmode=verify-full")
    let socket = try PostgresLocation(url: "postgresql:///pleura?host=/run/pg", environment: ["PGUSER": "bob", "PGPORT": "5433"])
    #expect(socket.user == "bob" && socket.isUnixSocket && socket.socketPath == "/run/pg/.s.PGSQL.5433")
    #expect(socket.database == "pleura" && socket.sslMode == .prefer)
    let defaults = try PostgresLocation(url: "postgresql://carol@localhost", environment: ["PGSSLMODE": "require"])
    #expect(defaults.port == 5432 && defaults.database == "carol" && defaults.sslMode == .require)
}

@Test func postgresPasswordComesFromTheEnvironmentOrAPrivatePasswordFile() throws {
    let dir = try TestEnv.makeTempDirectory("pleura-pgpass")
    let file = dir.appendingPathComponent("pgpass").path
    try "# comment\nother:*:*:*:nope\ndb.example:5432:ward3:alice:pa\\:ss\n*:*:*:alice:fallback\n"
        .write(toFile: file, atomically: true, encoding: .utf8)
    chmod(file, 0o600)
    let at = try PostgresLocation(url: "postgresql://alice@db.example:5432/ward3", environment: [:])
    #expect(at.password(environment: ["PGPASSFILE": file]) == "pa:ss")
    #expect(at.password(environment: ["PGPASSFILE": file, "PGPASSWORD": "env"]) == "env")
    let elsewhere = try PostgresLocation(url: "postgresql://alice@db2.example/x", environment: [:])
    #expect(elsewhere.password(environment: ["PGPASSFILE": file]) == "fallback")
    // libpq ignores a password file that others may read; so does Pleura.
    chmod(file, 0o644)
    #expect(at.password(environment: ["PGPASSFILE": file]) == nil)
}

@Test(needsServer) func postgresNewerSchemaIsRefusedUntouched() throws {
    let url = try TestPostgres.freshDatabase()
    _ = try PostgresStore.open(url: url)
    let newer = PostgresSchema.currentVersion + 1
    try TestPostgres.sql(url, "INSERT INTO schema_migration VALUES (\(newer), 'later', '9.9.9')")
    let before = try TestPostgres.sql(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    let error = try #require(throws: PleuraError.self) { try PostgresStore.open(url: url) }
    #expect(error.reason.contains("newer Pleura") && error.reason.contains("not changed"))
    #expect(try TestPostgres.sql(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == before)
    #expect(try TestPostgres.sql(url, "SELECT max(version) FROM schema_migration") == String(newer))
}

@Test(needsServer) func postgresDatabaseOfAnotherProgramIsRefused() throws {
    let url = try TestPostgres.freshDatabase()
    try TestPostgres.sql(url, "CREATE TABLE invoices (id int)")
    let error = try #require(throws: PleuraError.self) { try PostgresStore.open(url: url) }
    #expect(error.reason.contains("not a Pleura store"))
    #expect(try TestPostgres.sql(url, "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'") == "invoices")
}

@Test(needsServer) func postgresTriggersRefuseRewritingHistoryEvenForTheOwner() throws {
    let f = try BackendFixture(.postgres)
    try f.store.setLabel(item: f.item(1), field: .aLines, value: .flag(true), annotator: f.alice, session: f.session)
    for sql in ["UPDATE event SET new_value = '0'", "DELETE FROM event", "TRUNCATE event CASCADE", "UPDATE annotator SET name = 'x'",
                "DELETE FROM media_path", "UPDATE current_value SET value = '0'", "DELETE FROM current_value",
                "INSERT INTO current_value VALUES (1, 1, 1, 0, 'a_lines', '0', 1)"] {
        let error = try #require(throws: PleuraError.self, "\(sql)") { try f.rawSQL(sql) }
        #expect(error.reason.contains("append-only") || error.reason.contains("derived from the event log"), "\(sql): \(error.reason)")
    }
    #expect(try f.store.eventCount() == 1)
    #expect(try f.store.verifyCurrentState() == 0)
    let check = try (f.store as! PostgresStore).verify()
    #expect(check.problems.isEmpty && check.schemaVersion == PostgresSchema.currentVersion)
    // A dropped trigger is found.
    try f.rawSQL("DROP TRIGGER event_is_append_only ON event")
    #expect(try (f.store as! PostgresStore).verify().missingTriggers == ["event_is_append_only"])
}

@Test(needsServer) func postgresAnnotatorRoleMayReadAndAppendOnly() throws {
    let url = try TestPostgres.freshDatabase()
    let owner = try PostgresStore.initialize(url: url)
    let role = "ann_" + UUID().uuidString.prefix(8).lowercased()
    try TestPostgres.sql(url, "CREATE ROLE \(role) LOGIN IN ROLE pleura_annotator")
    let asAnnotator = try PostgresStore.open(url: TestPostgres.url(url, user: role))
    let sha = SHA256.hex(of: Array("role clip".utf8))
    try asAnnotator.registerMedia(sha256: sha, path: "/data/r.mp4", facts: MediaFacts())
    let me = try asAnnotator.annotator(named: "annie", role: .labeller)
    let s = try asAnnotator.beginSession(annotator: me, name: "t", mode: "label")
    try asAnnotator.setLabel(item: ItemRef(mediaSHA256: sha, frame: 0), field: .aLines, value: .flag(true), annotator: me, session: s)
    #expect(try owner.eventCount() == 1)
    let rights = try asAnnotator.roleRights()
    #expect(rights.role == role && rights.canAppend && !rights.canUpdateOrDelete && !rights.isOwner && !rights.isBlindedRater)
    #expect(rights.synchronousCommit == "on")
    #expect(try owner.roleRights().isOwner)
    let asRole = try TestPostgres.url(url, user: role)
    for sql in ["UPDATE event SET new_value = '0'", "DELETE FROM event", "INSERT INTO current_value VALUES (1, 0, 1, 0, 'x', NULL, 1)",
                "CREATE TABLE sneaky (x int)"] {
        let error = try #require(throws: PleuraError.self, "\(sql)") { try TestPostgres.sql(asRole, sql) }
        #expect(error.reason.contains("permission denied"), "\(sql): \(error.reason)")
    }
}

@Test(needsServer) func postgresBlindedRaterSeesNoneOfAnotherRatersRatings() throws {
    let url = try TestPostgres.freshDatabase()
    let owner = try PostgresStore.initialize(url: url)
    let suffix = UUID().uuidString.prefix(8).lowercased()
    let sha = SHA256.hex(of: Array("blind clip".utf8))
    try owner.registerMedia(sha256: sha, path: "/data/b.mp4", facts: MediaFacts())
    let item = ItemRef(mediaSHA256: sha, frame: 4)
    let ctx = HeatmapContext(modelSHA256: "m", method: "gradcam", layer: "l4", target: "diagnosis/covid", heatmapSHA256: "h")
    let labeller = try owner.annotator(named: "lab", role: .labeller)
    try owner.setLabel(item: item, field: .severity, value: .severity(Severity(rawValue: 1)!), annotator: labeller,
                       session: try owner.beginSession(annotator: labeller, name: "l", mode: "label"))
    var raters: [(role: String, store: PostgresStore, me: Annotator, session: StoreSession)] = []
    for (i, name) in ["rita", "bob"].enumerated() {
        let role = "\(name)_\(suffix)"
        try TestPostgres.sql(url, "CREATE ROLE \(role) LOGIN IN ROLE pleura_blind_rater")
        let store = try PostgresStore.open(url: TestPostgres.url(url, user: role))
        let me = try store.annotator(named: name, role: .rater)
        let s = try store.beginSession(annotator: me, name: "rate", mode: "rate")
        try store.setRating(item: item, context: ctx, rating: HeatmapRating(rawValue: i == 0 ? 2 : -3), comment: "by \(name)",
                            annotator: me, session: s)
        raters.append((role, store, me, s))
    }
    #expect(try raters[0].store.roleRights().isBlindedRater)
    // Through SQL, as each rater's role: their own two rating events and current values, none of the other's.
    for (mine, theirs) in [(0, 1), (1, 0)] {
        let asRole = try TestPostgres.url(url, user: raters[mine].role)
        let other = raters[theirs].me.id, me = raters[mine].me.id
        #expect(try TestPostgres.sql(asRole, "SELECT count(*) FROM event WHERE context_id <> 0 AND annotator_id = \(other)") == "0")
        #expect(try TestPostgres.sql(asRole, "SELECT count(*) FROM current_value WHERE context_id <> 0 AND annotator_id = \(other)") == "0")
        #expect(try TestPostgres.sql(asRole, "SELECT count(*) FROM event WHERE context_id <> 0") == "2")
        #expect(try TestPostgres.sql(asRole, "SELECT count(*) FROM event WHERE context_id <> 0 AND annotator_id = \(me)") == "2")
        #expect(try TestPostgres.sql(asRole, "SELECT count(*) FROM event WHERE context_id = 0") == "1")   // labels stay visible
        // And through the store's API.
        #expect(try raters[mine].store.currentRating(item: item, context: ctx, annotator: raters[theirs].me).rating == nil)
        #expect(try raters[mine].store.currentRating(item: item, context: ctx, annotator: raters[mine].me).comment == "by \(raters[mine].me.name)")
    }
    #expect(try owner.currentRating(item: item, context: ctx, annotator: raters[1].me).rating?.rawValue == -3)
    #expect(try owner.eventCount() == 5)
    // A blinded rater cannot write as another rater either.
    #expect(throws: PleuraError.self) {
        try raters[0].store.setRating(item: item, context: ctx, rating: HeatmapRating(rawValue: 0), comment: nil,
                                      annotator: raters[1].me, session: raters[1].session)
    }
    #expect(try owner.verifyCurrentState() == 0)
}

@Test(needsServer) func postgresLostCommitReplyIsFoundOnRetryNotAppendedTwice() throws {
    let f = try BackendFixture(.postgres)
    let store = f.store as! PostgresStore
    store.loseNextCommitReply = true
    var l = LabelSet(); l[.b2Lines] = true; l.severity = Severity(rawValue: 3)
    let events = try store.setLabels(item: f.item(7), to: l, annotator: f.alice, session: f.session)
    #expect(!store.loseNextCommitReply)   // the hook fired: the connection was dropped after COMMIT
    #expect(events.count == 2)
    #expect(try store.eventCount() == 2)
    #expect(try store.history(item: f.item(7)).map(\.id) == events.map(\.id))
    // A connection killed by the server between two writes is reopened by the next one.
    try TestPostgres.sql(f.location, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pleura' AND datname = current_database()")
    try store.setLabel(item: f.item(7), field: .quality, value: .quality(.poor), annotator: f.alice, session: f.session)
    #expect(try store.eventCount() == 3)
    #expect(try store.verifyCurrentState() == 0)
}

/// Key → durable label beside SQLite, in one run: `setLabel` latency (the call returns after the
/// commit is confirmed) over 1,000 changes on each backend, both stores in the same folder kind
/// (/dev/shm under `make test`: fsync costs nothing there, so this is the protocol's and the
/// round trips' cost, not the disk's). Prints p50 / p99.
@Test(needsServer) func postgresCommitLatencyBesideSQLite() throws {
    var report: [String] = []
    for backend in StoreBackend.allCases {
        let f = try BackendFixture(backend)
        var ms: [Double] = []
        for i in 0..<1_000 {
            let t = Measure.now()
            try f.store.setLabel(item: f.item(i % 250), field: LabelField.allCases[i / 250], value: .flag(true),
                                 annotator: f.alice, session: f.session)
            ms.append((Measure.now() - t) * 1000)
        }
        #expect(try f.store.eventCount() == 1_000)
        ms.sort()
        report.append(String(format: "%@ p50 %.2f ms p99 %.2f ms", backend.rawValue, ms[499], ms[989]))
    }
    print("setLabel, key → committed: " + report.joined(separator: "; "))
}
