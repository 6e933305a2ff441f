import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraStore
@testable import PleuraStorePostgres

// The server crashing under writers: `pg_ctl restart -m immediate` (no shutdown checkpoint, crash
// recovery on start) while `pleura store-torture` writers commit. On a cluster of its own
// (Scripts/pg-cluster.sh), so the other tests' server never goes away.

/// A throwaway cluster of this test's own, stopped and removed by `stop()`.
private struct OwnCluster {
    let dir: URL
    let url: String

    init() throws {
        let base = try scratchDirectory()
        chmod(base.path, 0o755)   // the postgres user owns the cluster below it
        dir = base.appendingPathComponent("cluster")
        let script = TestEnv.packageRoot.appendingPathComponent("Scripts/pg-cluster.sh").path
        let r = try runProgram("/bin/sh", [script, "start", dir.path])
        guard r.status == 0 else { throw PleuraError(file: script, "could not start a cluster: \(r.stderrText)") }
        url = r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `pg_ctl restart -m immediate` as the cluster's owner (through pg-cluster.sh, so the new
    /// server inherits none of this process's descriptors); returns how long it took.
    func crashRestart() throws -> Double {
        let start = Measure.now()
        let script = TestEnv.packageRoot.appendingPathComponent("Scripts/pg-cluster.sh").path
        let r = try runProgram("/bin/sh", [script, "crash-restart", dir.path])
        guard r.status == 0 else { throw PleuraError(file: "pg_ctl", r.stderrText) }
        return Measure.now() - start
    }

    func stop() {
        let script = TestEnv.packageRoot.appendingPathComponent("Scripts/pg-cluster.sh").path
        _ = try? runProgram("/bin/sh", [script, "stop", dir.path])
        try? FileManager.default.removeItem(at: dir.deletingLastPathComponent())
    }
}

@Test(.enabled(if: TestPostgres.adminURL != nil, "\(TestPostgres.missing)"),
      .timeLimit(.minutes(5)))
func postgresCrashRestartsDuringWritesLoseNothingReportedAndAddNothingTwice() throws {
    let cluster = try OwnCluster()
    defer { cluster.stop() }
    try TestPostgres.sql(cluster.url, "CREATE DATABASE restarts")
    var parts = try #require(URLComponents(string: cluster.url))
    parts.path = "/restarts"
    let url = try #require(parts.string)
    _ = try PostgresStore.open(url: url)
    let writers = try (0..<3).map { try Writer(store: url, annotator: "w\($0)", count: 0) }
    while writers.contains(where: { $0.lineCount < 5 }) {
        if let dead = writers.first(where: { !$0.process.isRunning }) {
            Issue.record("a writer stopped: \(dead.finish().stderr)"); return
        }
        usleep(10_000)
    }
    var away: [Double] = []
    for _ in 0..<20 {
        let before = writers.map(\.lineCount)
        away.append(try cluster.crashRestart())
        // Every writer commits again after each crash (they retry, never give up or fail).
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, zip(writers, before).contains(where: { $0.lineCount <= $1 + 2 }) { usleep(10_000) }
    }
    for w in writers { kill(w.process.processIdentifier, SIGKILL) }
    var reported: [String] = []
    for w in writers {
        let (lines, stderr) = w.finish()
        #expect(stderr.isEmpty, "a writer complained: \(stderr)")
        reported += lines
    }
    let logged = try TestPostgres.sql(url, "SELECT id || ' ' || frame || ' ' || field || ' ' || new_value FROM event")
        .split(separator: "\n").map(String.init)
    let loggedSet = Set(logged)
    let missing = reported.filter { !loggedSet.contains($0) }
    #expect(missing.isEmpty, "reported but not in the log: \(missing.prefix(5))")
    // None twice: the log holds what was reported plus at most the change each killed writer had in flight.
    #expect(logged.count >= reported.count && logged.count <= reported.count + writers.count,
            "\(logged.count) events for \(reported.count) reported")
    #expect(try PostgresStore.open(url: url).verify().problems.isEmpty)
    let sorted = away.sorted()
    print("postgres crash restarts: 20 × pg_ctl restart -m immediate under 3 writers; \(reported.count) commits reported, all present, \(logged.count - reported.count) in flight at the final kill; server away median \(String(format: "%.2f", sorted[10])) s, max \(String(format: "%.2f", sorted.last!)) s")
}
