import Foundation
import Testing
import PleuraCore
import PleuraStore
import PleuraTestSupport

/// Drives the real `pleura label` in tmux: a session over two clips made at test time with ffmpeg
/// in a temp folder (own cache via PLEURA_CACHE_DIR, own config via XDG_CONFIG_HOME), a scripted
/// sequence of the default keymap's keys, then checks the store.
@Suite(.serialized) struct LabellingScreenTests {
    static let toolsPresent = TestEnv.which("tmux") != nil && TestEnv.which("ffmpeg") != nil
    static let toolsMissing = "skipped: tmux or ffmpeg is not installed (make test installs them)"

    /// A temp folder with two clips (40 and 30 frames) and a session over them; returns
    /// (folder, session file).
    static func makeSession() throws -> (URL, URL) {
        let dir = try TestEnv.makeTempDirectory("pleura-tui")
        let clips = dir.appendingPathComponent("clips")
        try FileManager.default.createDirectory(at: clips, withIntermediateDirectories: true)
        for (name, source, frames) in [("a.mp4", "testsrc=size=320x240:rate=20", 40), ("b.mp4", "smptebars=size=320x240:rate=20", 30)] {
            let r = try runProgram(TestEnv.which("ffmpeg")!, ["-loglevel", "error", "-y", "-f", "lavfi", "-i", source,
                                                             "-frames:v", "\(frames)", "-pix_fmt", "yuv420p", clips.appendingPathComponent(name).path])
            guard r.status == 0 else { throw DriverError("ffmpeg failed: \(r.stderrText)") }
        }
        let session = dir.appendingPathComponent("session.toml")
        try """
        name = "tmux test"
        mode = "label"
        media = ["clips/*.mp4"]
        store = "labels.sqlite"
        annotator = "tester"
        """.write(to: session, atomically: true, encoding: .utf8)
        return (dir, session)
    }

    static func environment(_ dir: URL) -> [String: String] {
        ["PLEURA_CACHE_DIR": dir.appendingPathComponent("cache").path, "XDG_CONFIG_HOME": dir.appendingPathComponent("config").path,
         "LANG": "C.UTF-8", "TERM": "tmux-256color"]
    }

    /// Labels frames 0…29 of the first clip with every kind of key, then one whole-video label.
    static let script: [String] = {
        var keys: [String] = []
        for i in 0..<30 {
            switch i % 6 {
            case 0: keys += ["a", "0"]
            case 1: keys += ["."]
            case 2: keys += ["b", "1"]
            case 3: keys += ["b", "B", "2"]
            case 4: keys += ["c", "3", "x"]
            default: keys += ["a", "a"]
            }
            if i == 7 { keys += ["N", "irregular pleura", "Enter"] }
            if i == 10 { keys += ["u", "C-r"] }
            if i < 29 { keys.append(i % 2 == 0 ? "l" : "Right") }
        }
        keys += ["v", "2", "x", "v"]
        return keys
    }()

    static func startPleura(_ dir: URL, _ session: URL, wrapInShell: Bool = false) throws -> TmuxDriver {
        let pleura = TestEnv.pleuraBinary.path
        let command = wrapInShell
            ? "sh -c '\"\(pleura)\" label \"\(session.path)\" --graphics halfblock; echo \"status=$?\" > exit.txt; stty -a > stty.txt; sleep 30'"
            : "exec \"\(pleura)\" label \"\(session.path)\" --graphics halfblock"
        let driver = try TmuxDriver(command: command, environment: environment(dir), cwd: dir)
        guard driver.wait(timeout: 60, { $0.contains("Progress") }) != nil else {
            throw DriverError("the labelling screen did not appear:\n\(driver.screen())")
        }
        return driver
    }

    static func firstClipSHA(_ dir: URL) throws -> String {
        try SHA256.hexOfFile(atPath: dir.appendingPathComponent("clips/a.mp4").path)
    }

    @Test(.enabled(if: toolsPresent, "\(toolsMissing)"))
    func scriptedLabellingIsStoredExactlyAndExportsTheGoldenCSV() throws {
        let (dir, session) = try Self.makeSession()
        defer { try? FileManager.default.removeItem(at: dir) }
        let driver = try Self.startPleura(dir, session, wrapInShell: true)
        for (n, key) in Self.script.enumerated() {
            let screen = driver.press(key)
            try #require(screen != nil, "key \(n) '\(key)' changed nothing on screen:\n\(driver.screen())")
        }
        driver.send("q")
        // The wrapping shell records the exit status and the terminal mode after pleura ends.
        let exitFile = dir.appendingPathComponent("exit.txt")
        let end = Date().addingTimeInterval(30)  // returns as soon as the shell wrote it; a loaded machine can take seconds to quit
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("stty.txt").path), Date() < end { usleep(10_000) }
        #expect((try? String(contentsOf: exitFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "status=0")

        // The store: exactly 30 labelled frames and one video label, by "tester", in one session.
        let store = try AnnotationStore.open(path: dir.appendingPathComponent("labels.sqlite").path)
        let tester = try #require(try store.annotator(named: "tester"))
        let sha = try Self.firstClipSHA(dir)
        var labelled = 0
        try store.forEachCurrentLabels { _, frame, annotatorID, _ in
            #expect(annotatorID == tester.id)
            labelled += 1
            _ = frame
        }
        #expect(labelled == 31)
        let frame7 = try store.currentLabels(item: ItemRef(mediaSHA256: sha, frame: 7), annotator: tester)
        #expect(frame7.note == "irregular pleura")
        let video = try store.currentLabels(item: ItemRef(mediaSHA256: sha, frame: nil), annotator: tester)
        #expect(video.severity?.rawValue == 2 && video.quality == .poor)
        let events = try store.history(item: ItemRef(mediaSHA256: sha, frame: 0))
        #expect(!events.isEmpty && Set(events.map(\.sessionID)).count == 1)

        // The CSV export equals the golden file.
        let out = dir.appendingPathComponent("export.csv")
        let r = try runPleura(["export", "--store", dir.appendingPathComponent("labels.sqlite").path, "--format", "csv",
                               "--root", dir.path, "-o", out.path])
        #expect(r.status == 0, "\(r.stderrText)")
        let golden = TestEnv.packageRoot.appendingPathComponent("Tests/PleuraTUITests/Golden/scripted-labels.csv")
        let exported = try String(contentsOf: out, encoding: .utf8)
        if ProcessInfo.processInfo.environment["PLEURA_UPDATE_GOLDEN"] == "1" {
            try exported.write(to: golden, atomically: true, encoding: .utf8)
        }
        #expect(exported == (try String(contentsOf: golden, encoding: .utf8)))
    }

    @Test(.enabled(if: toolsPresent, "\(toolsMissing)"))
    func killedAfterTwentyKeysKeepsEveryLabelTheScreenShowed() throws {
        let (dir, session) = try Self.makeSession()
        defer { try? FileManager.default.removeItem(at: dir) }
        let driver = try Self.startPleura(dir, session)
        var shown: [Int: PanelReading] = [:]
        for key in Self.script.prefix(20) {
            let screen = try #require(driver.press(key))
            if let reading = PanelReading.parse(screen), !reading.videoLevel { shown[reading.frame] = reading }
        }
        kill(driver.panePID, SIGKILL)
        #expect(driver.wait(timeout: 5) { _ in driver.paneDead } != nil)

        let store = try AnnotationStore.open(path: dir.appendingPathComponent("labels.sqlite").path)
        let tester = try #require(try store.annotator(named: "tester"))
        let sha = try Self.firstClipSHA(dir)
        #expect(shown.count >= 5)
        for (frame, reading) in shown {
            let labels = try store.currentLabels(item: ItemRef(mediaSHA256: sha, frame: frame), annotator: tester)
            let stored = ["a_lines": labels[.aLines], "b1_lines": labels[.b1Lines], "b2_lines": labels[.b2Lines], "consolidation": labels[.consolidation]]
            for (name, value) in reading.findings { #expect(stored[name]! == value, "frame \(frame) \(name)") }
            #expect(labels.severity?.rawValue == reading.severity, "frame \(frame) severity")
            #expect(labels.quality?.rawValue == reading.quality, "frame \(frame) quality")
        }
    }

    @Test(.enabled(if: toolsPresent, "\(toolsMissing)"), arguments: [SIGHUP, SIGTERM])
    func hangupAndTerminateExitWithinASecondAndRestoreTheTerminal(signal: Int32) throws {
        let (dir, session) = try Self.makeSession()
        defer { try? FileManager.default.removeItem(at: dir) }
        let driver = try Self.startPleura(dir, session, wrapInShell: true)
        for key in ["a", "2", "l", "b"] { _ = try #require(driver.press(key)) }
        let shell = driver.panePID
        let child = try runProgram("/usr/bin/pgrep", ["-P", "\(shell)"]).stdoutText
            .split(separator: "\n").compactMap { pid_t($0) }.first
        let pid = try #require(child)
        let exitFile = dir.appendingPathComponent("exit.txt"), sttyFile = dir.appendingPathComponent("stty.txt")
        let start = Date()
        kill(pid, signal)
        while !FileManager.default.fileExists(atPath: sttyFile.path), Date().timeIntervalSince(start) < 5 { usleep(5_000) }
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed <= 1.0, "exit took \(elapsed) s")
        let status = try String(contentsOf: exitFile, encoding: .utf8)
        #expect(status.trimmingCharacters(in: .whitespacesAndNewlines) == "status=\(128 + signal)")
        // The terminal is back in cooked mode with echo, on the main screen.
        usleep(100_000)
        let stty = try String(contentsOf: sttyFile, encoding: .utf8)
        #expect(stty.contains(" icanon") && !stty.contains("-icanon"))
        #expect(stty.contains(" echo ") && !stty.contains("-echo "))
        #expect(!driver.alternateScreen)
        // Labels made before the signal are in the store.
        let store = try AnnotationStore.open(path: dir.appendingPathComponent("labels.sqlite").path)
        let tester = try #require(try store.annotator(named: "tester"))
        let sha = try Self.firstClipSHA(dir)
        let f0 = try store.currentLabels(item: ItemRef(mediaSHA256: sha, frame: 0), annotator: tester)
        let f1 = try store.currentLabels(item: ItemRef(mediaSHA256: sha, frame: 1), annotator: tester)
        #expect(f0[.aLines] == true && f0.severity?.rawValue == 2)
        #expect(f1[.b1Lines] == true)
    }
}
