import Foundation
import Testing
import PleuraCore
import PleuraTestSupport

/// The shell as a new user meets it in tmux: what start-up sends, what a resize and quit leave
/// behind, and the status line and help generated from the bindings.
@Suite(.serialized) struct ShellScreenTests {
    /// Start-up writes the first frame once, although the idle loop then opens the other clip and
    /// loads the model (both change the panel); one key writes one more.
    @Test(.enabled(if: LabellingScreenTests.toolsPresent, "\(LabellingScreenTests.toolsMissing)"))
    func startUpSendsTheFirstFrameOnce() throws {
        let (dir, session) = try LabellingScreenTests.makeSession()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("images.log")
        var env = LabellingScreenTests.environment(dir)
        env["PLEURA_TEST_IMAGE_LOG"] = log.path
        let driver = try TmuxDriver(command: "exec \"\(TestEnv.pleuraBinary.path)\" label \"\(session.path)\" --graphics halfblock",
                                    environment: env, cwd: dir)
        try #require(driver.wait(timeout: 60) { $0.contains("Progress") } != nil, "no screen:\n\(driver.screen())")
        // Idle work: the second clip opens (the "still opening" line clears), the model loads
        // (its rows fill in) when the embedded model is there.
        _ = driver.wait(timeout: 20) { !$0.contains("still opening") && !$0.contains("loading") && !$0.contains("not loaded yet") }
        usleep(500_000)
        func images() -> Int { ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").count }
        #expect(images() == 1, "start-up wrote the picture \(images()) times")
        _ = driver.press("l")
        usleep(200_000)
        #expect(images() == 2)
        driver.send("q")
    }

    /// Issue 12: in tmux a resize followed by `q` left rows of half-blocks behind. (This tmux
    /// setup, with the alternate screen, did not reproduce it before the fix either: the test
    /// guards the outcome; the fix blanks every cell before endwin.)
    @Test(.enabled(if: LabellingScreenTests.toolsPresent, "\(LabellingScreenTests.toolsMissing)"))
    func resizeThenQuitLeavesNoImageCells() throws {
        let (dir, session) = try LabellingScreenTests.makeSession()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A shell collects the exit status (as in LabellingScreenTests): tmux 3.3a at times leaves
        // a directly exec'd pane process a zombie it never reaps, so its pane shows no status.
        let driver = try TmuxDriver(command: "sh -c '\"\(TestEnv.pleuraBinary.path)\" label \"\(session.path)\" --graphics halfblock; echo \"status=$?\" > exit.txt'",
                                    environment: LabellingScreenTests.environment(dir), cwd: dir)
        // Image cells: anything drawn left of the panel's separator below the title (half-blocks,
        // or the NO_COLOR text picture).
        func imageCells(_ s: String) -> Bool {
            s.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().contains { (row: Substring) -> Bool in
                guard let bar = row.firstIndex(of: "│") else { return false }
                return row.prefix(upTo: bar).contains { $0 != " " }
            }
        }
        try #require(driver.wait(timeout: 60) { $0.contains("Progress") && imageCells($0) } != nil, "no picture:\n\(driver.screen())")
        driver.resize(columns: 100, rows: 30)
        try #require(driver.wait(timeout: 10) { $0.split(separator: "\n").first.map { $0.count <= 100 } ?? false && imageCells($0) } != nil,
                     "no picture after the resize:\n\(driver.screen())")
        usleep(300_000)
        driver.resize(columns: 130, rows: 45)
        usleep(500_000)
        driver.send("q")
        try #require(driver.wait(timeout: 30) { _ in driver.paneDead } != nil, "pleura did not quit")
        let exitFile = dir.appendingPathComponent("exit.txt")
        #expect((try? String(contentsOf: exitFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "status=0",
                "pleura did not exit with 0")
        let after = driver.screen().split(separator: "\n").filter { !$0.hasPrefix("Pane is dead") }.joined(separator: "\n")
        #expect(after.allSatisfy { $0 == " " || $0 == "\n" }, "cells left after quitting:\n\(after)")
    }

    /// The status line and help come from the bindings: label keys in label mode, with the
    /// sampled-frames wording when the session samples.
    @Test(.enabled(if: LabellingScreenTests.toolsPresent, "\(LabellingScreenTests.toolsMissing)"))
    func statusLineAndHelpAreTheBindings() throws {
        let (dir, session) = try LabellingScreenTests.makeSession()
        defer { try? FileManager.default.removeItem(at: dir) }
        try (try String(contentsOf: session, encoding: .utf8) + "\n[sampling]\nevery = 4\n").write(to: session, atomically: true, encoding: .utf8)
        let driver = try LabellingScreenTests.startPleura(dir, session)
        let screen = driver.screen()
        let status = screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).last { !$0.trimmingCharacters(in: .whitespaces).isEmpty } ?? ""
        for part in ["→/l next", "a A", "0-3 sev", "u undo", "? help", "q quit"] {
            #expect(status.contains(part), "status line lacks '\(part)': \(status)")
        }
        let jumped = try #require(driver.press("L"))
        #expect(jumped.contains("forward 9 sampled frames: frame 36"), "\(jumped)")   // 10 sampled frames: 0, 4, … 36
        let help = try #require(driver.press("?"))
        #expect(help.contains("forward 10 sampled frames"))
        #expect(help.contains("present → absent → not assessed"))
        _ = driver.press("Space")
        driver.send("q")
    }
}
