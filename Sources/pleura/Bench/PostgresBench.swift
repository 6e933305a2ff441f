import Foundation
import PleuraCore
import PleuraStore
import PleuraStorePostgres

extension BenchmarkSuite {
    /// The store on PostgreSQL beside SQLite, in one run (issue 14): key → durable label latency
    /// in-process, and a soak of 20 annotator processes (`pleura store-torture`) on each backend.
    /// Both stores live on the same file system (the bench's scratch folder), so both pay the same
    /// fsync. The server is `PLEURA_TEST_PG_URL` when set (a role that may create databases),
    /// else a throwaway cluster started with Scripts/pg-cluster.sh and removed afterwards.
    static let postgres = BenchmarkSuite(
        name: "postgres",
        summary: "the store on PostgreSQL (loopback) beside SQLite: key → durable label, 20-annotator soak",
        run: { context in try PostgresBench(context: context).run() })
}

private struct PostgresBench {
    let context: BenchContext
    /// Soak length per backend: 60 s as issue 14 asks; 10 s with --quick.
    var soakSeconds: Double { context.quick ? 10 : 60 }
    /// Annotator processes in the soak.
    let annotators = 20

    func run() throws -> [BenchResult] {
        let server = try BenchServer.start(scratch: context.scratch, progress: context.progress)
        defer { server.stop() }
        var results: [BenchResult] = []
        func add(_ name: String, _ value: Double, _ unit: String, target: String? = nil, pass: Bool? = nil, note: String? = nil) {
            results.append(BenchResult(suite: "postgres", name: name, value: value, unit: unit, target: target, pass: pass, note: note))
        }
        let backends: [(name: String, location: () throws -> String)] = [
            ("sqlite", { context.scratch.appendingPathComponent("pg-bench-\(UUID().uuidString.prefix(8)).sqlite").path }),
            ("postgres", { try server.newDatabase() }),
        ]

        // Key → durable label: the call the labelling screen makes between a key and showing
        // the change (one transaction, confirmed durable), one process, one annotator.
        let count = context.quick ? 200 : 1_000
        for backend in backends {
            context.progress("\(backend.name): \(count) setLabel commits, one process")
            let store = try openStore(try backend.location())
            let sha = SHA256.hex(of: Array("pleura bench latency clip".utf8))
            try store.registerMedia(sha256: sha, path: "/bench/latency.mp4", facts: MediaFacts(kind: "video", frames: 250))
            let me = try store.annotator(named: "bench-latency", role: .labeller)
            let session = try store.beginSession(annotator: me, name: "bench latency", mode: "label")
            var samples: [Double] = []
            for i in 0..<count {
                let item = ItemRef(mediaSHA256: sha, frame: i % 250)
                let field = [LabelField.aLines, .b1Lines, .b2Lines, .consolidation][(i / 250) % 4]
                let t = Measure.now()
                try store.setLabel(item: item, field: field, value: .flag(i / 1_000 % 2 == 0), annotator: me, session: session)
                samples.append(Measure.now() - t)
            }
            let timing = TimingSummary(samples)
            add("\(backend.name): key → durable label, p50", timing.p50 * 1000, "ms")
            add("\(backend.name): key → durable label, p99", timing.p99 * 1000, "ms", note: "\(count) commits")
        }

        for backend in backends {
            context.progress("\(backend.name): \(annotators) annotator processes labelling for \(Int(soakSeconds)) s")
            let soak = try Soak.run(executable: context.pleuraExecutable.path, store: try backend.location(),
                                    open: openStore, processes: annotators, seconds: soakSeconds, scratch: context.scratch)
            let note = "\(annotators) processes × \(Int(soakSeconds)) s, \(soak.events) events"
            add("\(backend.name): soak, events/s", soak.eventsPerSecond, "events/s", note: note)
            add("\(backend.name): soak, commit latency p50", soak.latency.p50 * 1000, "ms")
            add("\(backend.name): soak, commit latency p99", soak.latency.p99 * 1000, "ms")
            add("\(backend.name): soak, errors", Double(soak.errors.count), "", target: "0", pass: soak.errors.isEmpty,
                note: soak.errors.first.map { "first: \($0)" })
        }
        return results
    }

    /// A store for the bench, either backend.
    func openStore(_ location: String) throws -> any LabelStore & StoreCopyEndpoint {
        if PostgresLocation.isURL(location) { return try PostgresStore.open(url: location) }
        return try AnnotationStore.open(path: location)
    }
}

/// `processes` × `pleura store-torture --latency` against one store for `seconds` (after a
/// 3-second warm-up that is not counted), then SIGKILL; every reported commit must be in the
/// store, and nothing may be there twice.
private struct Soak {
    var events: Int
    var eventsPerSecond: Double
    var latency: TimingSummary
    var errors: [String]

    static func run(executable: String, store location: String, open: (String) throws -> any LabelStore & StoreCopyEndpoint,
                    processes: Int, seconds: Double, scratch: URL) throws -> Soak {
        _ = try open(location)   // created and migrated before the writers start: the soak measures steady state
        let folder = scratch.appendingPathComponent("soak-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var writers: [(process: Process, out: URL, err: URL)] = []
        defer { for w in writers where w.process.isRunning { kill(w.process.processIdentifier, SIGKILL); w.process.waitUntilExit() } }
        for i in 0..<processes {
            let out = folder.appendingPathComponent("w\(i).out"), err = folder.appendingPathComponent("w\(i).err")
            _ = FileManager.default.createFile(atPath: out.path, contents: nil)
            _ = FileManager.default.createFile(atPath: err.path, contents: nil)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = ["store-torture", "--store", location, "--annotator", "soak\(i)", "--count", "0", "--latency"]
            p.standardOutput = try FileHandle(forWritingTo: out)
            p.standardError = try FileHandle(forWritingTo: err)
            try p.run()
            writers.append((p, out, err))
        }
        func lineCounts() -> [Int] {
            writers.map { w in ((try? Data(contentsOf: w.out)) ?? Data()).reduce(0) { $1 == 10 ? $0 + 1 : $0 } }
        }
        usleep(3_000_000)
        let before = lineCounts(), start = Measure.now()
        usleep(UInt32(seconds * 1e6))
        let after = lineCounts(), elapsed = Measure.now() - start
        var errors: [String] = []
        for (i, w) in writers.enumerated() {
            if !w.process.isRunning { errors.append("writer \(i) exited (status \(w.process.terminationStatus))") }
            kill(w.process.processIdentifier, SIGKILL)
            w.process.waitUntilExit()
        }
        var reported: [Int64: String] = [:]
        var latencies: [Double] = []
        var reportedLines = 0
        for (i, w) in writers.enumerated() {
            let stderr = String(decoding: (try? Data(contentsOf: w.err)) ?? Data(), as: UTF8.self)
            if !stderr.isEmpty { errors.append("writer \(i): \(stderr.split(separator: "\n").first ?? "")") }
            var text = String(decoding: (try? Data(contentsOf: w.out)) ?? Data(), as: UTF8.self)
            // Complete lines only (each is one write(2), so a killed writer leaves none half written).
            text = text.lastIndex(of: "\n").map { String(text[...$0]) } ?? ""
            let lines = text.split(separator: "\n")
            reportedLines += lines.count
            for (n, line) in lines.enumerated() {
                let p = line.split(separator: " ")
                guard p.count == 5, let id = Int64(p[0]), let micros = Double(p[4]) else { errors.append("writer \(i): bad line \(line)"); continue }
                if reported.updateValue("\(p[1]) \(p[2]) \(p[3])", forKey: id) != nil { errors.append("event \(id) reported twice") }
                if n >= before[i] && n < after[i] { latencies.append(micros / 1e6) }
            }
        }
        // Every reported commit is in the log as reported; at most one unreported change per killed writer.
        let store = try open(location)
        let eventTable = StoreCopy.tables.first { $0.name == "event" }!
        var logged = 0
        try store.withCopySnapshot { reader in
            try reader.rows(of: eventTable, batch: 5_000) { rows in
                for row in rows {
                    logged += 1
                    guard case .int(let id) = row[0], let want = reported[id] else { continue }
                    func text(_ v: StoreValue) -> String {
                        switch v { case .int(let i): return String(i); case .text(let s): return s; default: return "" }
                    }
                    if "\(text(row[10])) \(text(row[12])) \(text(row[14]))" != want { errors.append("event \(id) differs from what was reported") }
                    reported[id] = nil
                }
            }
        }
        if !reported.isEmpty { errors.append("\(reported.count) reported commits are missing from the store") }
        let total = after.reduce(0, +) - before.reduce(0, +)
        if logged > reportedLines + processes { errors.append("\(logged) events logged for \(reportedLines) reported: some were added twice") }
        try? FileManager.default.removeItem(at: folder)
        return Soak(events: total, eventsPerSecond: Double(total) / elapsed,
                    latency: TimingSummary(latencies.isEmpty ? [0] : latencies), errors: errors)
    }
}

/// The PostgreSQL server the bench writes to: `PLEURA_TEST_PG_URL`, or a throwaway cluster of
/// its own (Scripts/pg-cluster.sh start/stop), in the scratch folder.
private final class BenchServer {
    let adminURL: String
    private let clusterDir: URL?
    private var created: [String] = []

    private init(adminURL: String, clusterDir: URL?) {
        self.adminURL = adminURL
        self.clusterDir = clusterDir
    }

    static func start(scratch: URL, progress: (String) -> Void) throws -> BenchServer {
        if let url = ProcessInfo.processInfo.environment["PLEURA_TEST_PG_URL"], !url.isEmpty {
            progress("PostgreSQL: PLEURA_TEST_PG_URL")
            return BenchServer(adminURL: url, clusterDir: nil)
        }
        guard let script = findScript() else {
            throw PleuraError(file: "Scripts/pg-cluster.sh", "not found beside this pleura or in the current folder: run the bench from the repository, or set PLEURA_TEST_PG_URL")
        }
        let base = scratch.appendingPathComponent("pg")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        chmod(scratch.path, 0o755); chmod(base.path, 0o755)   // the postgres user owns the cluster below
        let dir = base.appendingPathComponent("cluster")
        progress("starting a throwaway PostgreSQL cluster (\(script.path) start \(dir.path))")
        let r = try HelperProgram.run("/bin/sh", [script.path, "start", dir.path])
        guard r.status == 0 else { throw PleuraError(file: script.path, "could not start a PostgreSQL cluster: \(r.stderr.split(separator: "\n").first ?? "")") }
        return BenchServer(adminURL: r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), clusterDir: dir)
    }

    /// A new empty database on the server (dropped again by ``stop()`` on a server not ours).
    func newDatabase() throws -> String {
        let name = "pleura_bench_\(getpid())_\(created.count)"
        try psql(adminURL, "CREATE DATABASE \(name)")
        created.append(name)
        var parts = URLComponents(string: adminURL)!
        parts.path = "/" + name
        return parts.string!
    }

    func stop() {
        if let clusterDir, let script = Self.findScript() {
            _ = try? HelperProgram.run("/bin/sh", [script.path, "stop", clusterDir.path])
        } else {
            for name in created { try? psql(adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        }
    }

    private func psql(_ url: String, _ sql: String) throws {
        let bin = ["/usr/bin/psql", ProcessInfo.processInfo.environment["PLEURA_TEST_PG_BIN"].map { $0 + "/psql" } ?? ""]
            .first { !$0.isEmpty && FileManager.default.isExecutableFile(atPath: $0) } ?? "psql"
        let r = try HelperProgram.run(bin, [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        guard r.status == 0 else { throw PleuraError(file: "psql", r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Scripts/pg-cluster.sh of the repository this pleura was built in (…/.build/…/pleura), or
    /// of the current folder.
    private static func findScript() -> URL? {
        var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        for _ in 0..<5 { candidates.append(folder); folder = folder.deletingLastPathComponent() }
        return candidates.map { $0.appendingPathComponent("Scripts/pg-cluster.sh") }
            .first { FileManager.default.fileExists(atPath: $0.path) }
    }
}

/// A short helper program's status, stdout and stderr (pg-cluster.sh, psql).
private enum HelperProgram {
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        p.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read before waiting: a full pipe would block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
