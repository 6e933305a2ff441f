import Foundation
import Testing
import PleuraCore
import PleuraStore
import PleuraTestSupport

/// The exam overview screen and the zone and frame-class keys, driven in tmux at 80×24 on phantom
/// clips named by the session's pattern (`MRN<id>_<zone>.mp4`; one clip the pattern misses).
@Suite(.serialized) struct ExamScreenTests {
    static let toolsPresent = TestEnv.which("tmux") != nil
    static let names = ["MRN4711_R1.mp4", "MRN4711_R3.mp4", "MRN4711_L2.mp4", "MRN4712_R1.mp4", "unnamed.mp4"]

    /// Phantom clips renamed by the pattern and a session over them; returns (folder, session).
    static func makeSession(schema: String = "") throws -> (URL, URL) {
        let dir = try TestEnv.makeTempDirectory("pleura-exam-tui")
        let clips = dir.appendingPathComponent("clips")
        let r = try runPleura(["phantom", "-o", clips.path, "--count", String(names.count), "--seed", "16"], cwd: dir)
        try #require(r.status == 0, "pleura phantom: \(r.stderrText)")
        try? FileManager.default.removeItem(at: clips.appendingPathComponent("labels.csv"))
        for (i, name) in names.enumerated() {
            try FileManager.default.moveItem(at: clips.appendingPathComponent(String(format: "phantom-%03d.mp4", i)),
                                             to: clips.appendingPathComponent(name))
        }
        let session = dir.appendingPathComponent("exam.toml")
        try """
        name = "exam test"
        mode = "label"
        media = ["clips/*.mp4"]
        store = "labels.sqlite"
        annotator = "tester"
        [sampling]
        every = 10
        \(schema)
        [exam]
        protocol = "iclus14"
        pattern = "(MRN\\\\d+)_([LR]\\\\d)"
        """.write(to: session, atomically: true, encoding: .utf8)
        return (dir, session)
    }

    static func start(_ dir: URL, _ session: URL, columns: Int = 80, rows: Int = 24) throws -> TmuxDriver {
        let env = ["PLEURA_CACHE_DIR": dir.appendingPathComponent("cache").path, "XDG_CONFIG_HOME": dir.appendingPathComponent("config").path,
                   "LANG": "C.UTF-8", "TERM": "tmux-256color"]
        let driver = try TmuxDriver(command: "exec \"\(TestEnv.pleuraBinary.path)\" label \"\(session.path)\" --graphics halfblock",
                                    columns: columns, rows: rows, environment: env, cwd: dir)
        guard driver.wait(timeout: 60, { $0.contains("Progress") }) != nil else {
            throw DriverError("the labelling screen did not appear:\n\(driver.screen())")
        }
        // Every clip opened (idle time opens them one by one): the progress line stops saying so.
        _ = driver.wait(timeout: 30) { !$0.contains("still opening") }
        return driver
    }

    @Test(.enabled(if: toolsPresent, "skipped: tmux is not installed (make test installs it)"))
    func examGridShowsZonesScoresAndJumpsToAZonesClip() throws {
        let (dir, session) = try Self.makeSession()
        defer { try? FileManager.default.removeItem(at: dir) }
        // `pleura add --session` places the clips by the pattern (the unnamed one in no exam).
        let add = try runPleura(["add", dir.appendingPathComponent("clips").path, "--session", session.path], cwd: dir)
        #expect(add.status == 0 && add.stdoutText.contains("5 added, 0 moved, 0 already registered, 4 placed in exams"), "\(add.stdoutText)\(add.stderrText)")
        let driver = try Self.start(dir, session)
        defer { driver.close() }
        // Severity 2 on the first sampled frame of MRN4711_L2 (clip 1 in file order is MRN4711_L2).
        #expect(driver.screen().contains("MRN4711_L2"), "\(driver.screen())")
        #expect(driver.press("2") != nil)
        let grid = try #require(driver.press("E"), "the exam screen did not open")
        for needle in ["exam overview", " of 3: P-", "R posterior", "L posterior", "L2", "score 2", "R3", "no clip",
                       "LUS score 2 of 42 (1 of 14 zones scored)", "Enter open its clips", "Esc/E back"] {
            #expect(grid.contains(needle), "exam screen shows \(needle):\n\(grid)")
        }
        #expect(grid.split(separator: "\n").count <= 24)
        // The grid is laid out like the protocol: R3 (posterior upper) above R1 (posterior basal), same column.
        let lines = grid.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let r3 = try #require(lines.firstIndex { $0.contains(" R3 ") }), r1 = try #require(lines.firstIndex { $0.contains(" R1 ") })
        #expect(r3 < r1)
        #expect(lines[r3].range(of: " R3 ")!.lowerBound.utf16Offset(in: lines[r3]) == lines[r1].range(of: " R1 ")!.lowerBound.utf16Offset(in: lines[r1]))
        // Arrows move between cells (the message line names the zone under the cursor).
        #expect(driver.press("Left")?.contains("zone L4") == true)
        #expect(driver.press("Right")?.contains("zone L1") == true)
        // The next exam (MRN4712, or the clip no pattern placed): nothing scored there.
        let examLine = lines.first { $0.contains(" of 3: ") }
        let second = try #require(driver.press("n"))
        #expect(second.contains("no zone scored yet") && !second.contains(examLine ?? "?"), "\(second)")
        _ = driver.press("p")
        // To R3: left across both sides to the right posterior column (basal first), then up twice.
        for key in ["Left", "Left", "Left", "Left", "Left", "Up", "Up"] { _ = driver.press(key) }
        let atR3 = driver.screen()
        #expect(atR3.contains("zone R3"), "\(atR3)")
        let labelling = try #require(driver.press("Enter"))
        #expect(labelling.contains("MRN4711_R3") && labelling.contains("Progress"), "\(labelling)")
        // Zone key: this clip to R5 (typed lower case), then the grid shows R5 with a clip.
        _ = driver.press("Z")
        for c in ["r", "5"] { driver.send(c) }
        let saved = try #require(driver.press("Enter"))
        #expect(saved.contains("saved: zone R5"), "\(saved)")
        let after = try #require(driver.press("E"))
        #expect(after.contains("R5") && !after.contains("zone R3"), "\(after)")
        _ = driver.press("Escape")
        _ = driver.press("u")
        driver.send("q")
        _ = driver.wait(timeout: 10) { _ in driver.paneDead }

        let store = try AnnotationStore.open(path: dir.appendingPathComponent("labels.sqlite").path)
        let sha = try SHA256.hexOfFile(atPath: dir.appendingPathComponent("clips/MRN4711_R3.mp4").path)
        #expect(try store.zone(ofMedia: sha) == "R3", "undo took the zone key back to the pattern's zone")
        let zones = try store.examMembership()
        #expect(zones.filter { $0.exam != nil }.count == 4, "the unnamed clip is in no exam")
        #expect(Set(zones.compactMap(\.exam)).count == 2)
    }

    @Test(.enabled(if: toolsPresent, "skipped: tmux is not installed (make test installs it)"))
    func huFrameClassesAreKeysAndTheirMeanIsThePatientScore() throws {
        let (dir, session) = try Self.makeSession(schema: "[schema]\nframe_classes = \"hu6\"\nseverity = false")
        defer { try? FileManager.default.removeItem(at: dir) }
        let driver = try Self.start(dir, session)
        defer { driver.close() }
        let first = driver.screen()
        #expect(first.contains("A&B-line") && first.contains("consolidation") && !first.contains("[·]"), "\(first)")
        let set = try #require(driver.press("#"))     // B1-line, score 2
        #expect(set.contains("saved: B1-line (score 2)"), "\(set)")
        _ = driver.press("l")
        _ = driver.press("^")                           // consolidation, score 4
        let grid = try #require(driver.press("E"))
        #expect(grid.contains("Hu mean 3.00 (2 frames)") && grid.contains("score 4"), "\(grid)")
        _ = driver.press("Escape")
        driver.send("q")
        _ = driver.wait(timeout: 10) { _ in driver.paneDead }
        let csv = dir.appendingPathComponent("patients.csv")
        let r = try runPleura(["exams", session.path, "--patients", csv.path], cwd: dir)
        #expect(r.status == 0, "\(r.stderrText)")
        let rows = try CSV.parse(String(contentsOf: csv, encoding: .utf8), file: "patients.csv").map(\.fields)
        #expect(rows.first == ["patient", "study", "rater", "lus_score", "zones_scored", "zones_total", "hu_mean", "hu_frames"])
        #expect(rows.dropFirst().contains { $0[2] == "tester" && $0[6] == "3" && $0[7] == "2" }, "\(rows)")
        let text = try String(contentsOf: csv, encoding: .utf8) + r.stdoutText
        #expect(!text.contains("MRN4711") && !text.contains("MRN4712"), "no raw identifier in the export")
    }

    /// The exam screen in a real terminal (xterm -ti vt340 under Xvfb), as docs/exam-screen.png
    /// shows it (PLEURA_SAVE_SCREENSHOT=docs/exam-screen.png keeps the shot): the picture is gone
    /// (the screen is text: dark glyphs and the cursor cell's reverse block on white, no image).
    @Test(.enabled(if: RealTerminalTests.present && RealTerminalTests.freeDisplay() != nil,
                   "\(RealTerminalTests.missing) and a free display among :94–:96"))
    func examScreenInXterm() throws {
        let (dir, session) = try Self.makeSession()
        defer { try? FileManager.default.removeItem(at: dir) }
        let shot = try RealTerminalTests.screenshotOfLabellingScreen(session: session, dir: dir, keys: ["2", "l", "3", "E"], name: "exam.png")
        let image = try RealTerminalTests.rgb(shot)
        var dark = 0, mid = 0, total = 0
        for y in stride(from: 0, to: image.height / 2, by: 2) {
            for x in stride(from: 0, to: image.width / 2, by: 2) {
                let i = 3 * (y * image.width + x)
                let l = (Int(image.pixels[i]) + Int(image.pixels[i + 1]) + Int(image.pixels[i + 2])) / 3
                total += 1
                if l < 100 { dark += 1 } else if l < 200 { mid += 1 }
            }
        }
        #expect(dark > total / 100 && dark < total / 3, "text on white: \(dark)/\(total) dark pixels")
        #expect(mid < total / 5, "no grey picture left: \(mid)/\(total) mid-grey pixels")
    }
}
