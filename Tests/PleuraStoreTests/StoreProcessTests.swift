import Foundation
import GRDB
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraStore
@testable import PleuraStorePostgres

// Crash and concurrency tests with real processes: the hidden `pleura store-torture` writer
// commits label changes and prints each committed event id.
//
// They run in /dev/shm when it exists. What they test is SQLite's locking, WAL recovery and the
// store's retry logic across processes; a SIGKILL loses the process, not the OS page cache, so
// fsync speed is irrelevant to them, and on this machine's disk `synchronous=FULL` costs ~5 ms
// per commit (8 × 2,000 commits: 81 s on disk, 4 s in /dev/shm). Power-loss durability rests on
// synchronous=FULL, which `openCreatesGroupWritableWALStoreWithFullSync` checks.

func scratchDirectory() throws -> URL {
    if FileManager.default.fileExists(atPath: "/dev/shm") {
        let url = URL(fileURLWithPath: "/dev/shm/pleura-store-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
    return try TestEnv.makeTempDirectory("pleura-store-proc")
}

/// A running `pleura store-torture` whose stdout lines are collected as they arrive.
final class Writer: @unchecked Sendable {
    let process = Process()
    private let pipe = Pipe()
    private let errPipe = Pipe()
    private let lock = NSLock()
    private var data = Data()

    init(store: String, annotator: String, count: Int) throws {
        process.executableURL = TestEnv.pleuraBinary
        process.arguments = ["store-torture", "--store", store, "--annotator", annotator, "--count", String(count)]
        process.standardOutput = pipe
        process.standardError = errPipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let chunk = h.availableData
            guard let self, !chunk.isEmpty else { return }
            self.lock.lock(); self.data.append(chunk); self.lock.unlock()
        }
        try process.run()
    }

    var lineCount: Int { lock.lock(); defer { lock.unlock() }; return data.reduce(0) { $1 == 10 ? $0 + 1 : $0 } }

    /// Waits for exit, then returns complete lines (a line is written with one write(2), so a
    /// killed writer never leaves half a line) and stderr.
    func finish() -> (lines: [String], stderr: String) {
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        let rest = pipe.fileHandleForReading.readDataToEndOfFile()
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        lock.lock(); data.append(rest); let all = data; lock.unlock()
        var text = String(decoding: all, as: UTF8.self)
        if let lastNewline = text.lastIndex(of: "\n") { text = String(text[...lastNewline]) } else { text = "" }
        return (text.split(separator: "\n").map(String.init), String(decoding: err, as: UTF8.self))
    }
}

/// The logged events as `id → "frame field value"`, read behind the store's API (sqlite3 / psql).
private func loggedEvents(_ backend: StoreBackend, _ location: String) throws -> [Int64: String] {
    var out: [Int64: String] = [:]
    switch backend {
    case .sqlite:
        try AnnotationStore.open(path: location).pool.read { db in
            for row in try Row.fetchAll(db, sql: "SELECT id, frame, field, new_value FROM event") {
                out[row[0]] = "\(row[1] as Int) \(row[2] as String) \(row[3] as String? ?? "")"
            }
        }
    case .postgres:
        for line in try TestPostgres.sql(location, "SELECT id, frame, field, coalesce(new_value, '') FROM event").split(separator: "\n") {
            let p = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            out[Int64(p[0])!] = "\(p[1]) \(p[2]) \(p[3])"
        }
    }
    return out
}

/// The number of reported lines `id frame field value` that are not an event in the store.
private func verifyReported(_ lines: [String], in logged: [Int64: String]) -> Int {
    var missing = 0
    for line in lines {
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2, let id = Int64(parts[0]) else { Issue.record("bad line \(line)"); continue }
        if logged[id] != parts[1] { missing += 1 }
    }
    return missing
}

/// A new store location on `backend` (a file in `dir`, or a fresh database).
private func newStore(_ backend: StoreBackend, in dir: URL, _ name: String) throws -> String {
    backend == .sqlite ? dir.appendingPathComponent(name + ".sqlite").path : try TestPostgres.freshDatabase()
}

/// Sound by the backend's own checks, and current state equal to the log.
private func storeIsSound(_ backend: StoreBackend, _ location: String) throws -> Bool {
    switch backend {
    case .sqlite:
        let store = try AnnotationStore.open(path: location)
        return try store.integrityCheck() == "ok" && store.verifyCurrentState() == 0
    case .postgres:
        return try PostgresStore.open(url: location).verify().problems.isEmpty
    }
}

@Test(.timeLimit(.minutes(3)), arguments: StoreBackend.available)
func killedWriterLosesNothingItReported(_ backend: StoreBackend) throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try newStore(backend, in: dir, "crash")
    var reportedTotal = 0
    var rng = SystemRandomNumberGenerator()
    for round in 0..<50 {
        let writer = try Writer(store: path, annotator: "crash\(round % 3)", count: 0)
        // Kill at a random moment: sometimes before the first commit, mostly mid-stream.
        let deadline = Date().addingTimeInterval(Double.random(in: 0.02...0.4, using: &rng))
        while Date() < deadline { usleep(2_000) }
        kill(writer.process.processIdentifier, SIGKILL)
        let (lines, _) = writer.finish()
        #expect(writer.process.terminationReason == .uncaughtSignal || writer.process.terminationStatus == SIGKILL, "status \(writer.process.terminationStatus) \(writer.process.terminationReason == .exit ? "exit" : "signal")")
        reportedTotal += lines.count
        let logged = try loggedEvents(backend, path)
        #expect(verifyReported(lines, in: logged) == 0, "round \(round): a reported commit is missing")
        // None twice: at most the one change in flight at the kill is in the log unreported.
        #expect(logged.count <= reportedTotal + round + 1, "round \(round): \(logged.count) events for \(reportedTotal) reported")
        #expect(try storeIsSound(backend, path), "round \(round)")
    }
    #expect(reportedTotal > 50, "the writer should have committed something in most rounds")
}

@Test(.timeLimit(.minutes(3)), arguments: StoreBackend.available)
func eightWritersLoseNothingAndSeeNoErrors(_ backend: StoreBackend) throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try newStore(backend, in: dir, "shared")
    // All eight start at once on a store that does not exist yet: creation and migration race too.
    let writers = try (0..<8).map { try Writer(store: path, annotator: "writer\($0)", count: 2_000) }
    var allLines: [String] = []
    for w in writers {
        let (lines, stderr) = w.finish()
        #expect(w.process.terminationStatus == 0, "stderr: \(stderr)")
        #expect(stderr.isEmpty, "stderr: \(stderr)")
        #expect(lines.count == 2_000)
        allLines += lines
    }
    let logged = try loggedEvents(backend, path)
    #expect(logged.count == 16_000)
    #expect(verifyReported(allLines, in: logged) == 0)
    #expect(Set(allLines.map { $0.split(separator: " ")[0] }).count == 16_000)
    #expect(try storeIsSound(backend, path))
}
