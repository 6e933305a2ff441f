import Foundation
import GRDB
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraStore

// Crash and concurrency tests with real processes: the hidden `pleura store-torture` writer
// commits label changes and prints each committed event id.
//
// They run in /dev/shm when it exists. What they test is SQLite's locking, WAL recovery and the
// store's retry logic across processes; a SIGKILL loses the process, not the OS page cache, so
// fsync speed is irrelevant to them, and on this machine's disk `synchronous=FULL` costs ~5 ms
// per commit (8 × 2,000 commits: 81 s on disk, 4 s in /dev/shm). Power-loss durability rests on
// synchronous=FULL, which `openCreatesGroupWritableWALStoreWithFullSync` checks.

private func scratchDirectory() throws -> URL {
    if FileManager.default.fileExists(atPath: "/dev/shm") {
        let url = URL(fileURLWithPath: "/dev/shm/pleura-store-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
    return try TestEnv.makeTempDirectory("pleura-store-proc")
}

/// A running `pleura store-torture` whose stdout lines are collected as they arrive.
private final class Writer: @unchecked Sendable {
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

/// Checks that each reported line `id frame field value` is an event in the store.
private func verifyReported(_ lines: [String], in store: AnnotationStore) throws -> Int {
    var missing = 0
    try store.pool.read { db in
        for line in lines {
            let parts = line.split(separator: " ").map(String.init)
            guard parts.count == 4, let id = Int64(parts[0]) else { Issue.record("bad line \(line)"); continue }
            let row = try Row.fetchOne(db, sql: "SELECT frame, field, new_value FROM event WHERE id = ?", arguments: [id])
            if row == nil || row!["frame"] as Int != Int(parts[1])! || row!["field"] as String != parts[2]
                || row!["new_value"] as String? != parts[3] { missing += 1 }
        }
    }
    return missing
}

@Test(.timeLimit(.minutes(3)))
func killedWriterLosesNothingItReported() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("crash.sqlite").path
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
        let store = try AnnotationStore.open(path: path)
        #expect(try verifyReported(lines, in: store) == 0, "round \(round): a reported commit is missing")
        #expect(try store.integrityCheck() == "ok", "round \(round)")
        #expect(try store.verifyCurrentState() == 0, "round \(round)")
    }
    #expect(reportedTotal > 50, "the writer should have committed something in most rounds")
}

@Test(.timeLimit(.minutes(3)))
func eightWritersLoseNothingAndSeeNoErrors() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("shared.sqlite").path
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
    let store = try AnnotationStore.open(path: path)
    #expect(try store.eventCount() == 16_000)
    #expect(try verifyReported(allLines, in: store) == 0)
    #expect(Set(allLines.map { $0.split(separator: " ")[0] }).count == 16_000)
    #expect(try store.integrityCheck() == "ok")
    #expect(try store.verifyCurrentState() == 0)
}
