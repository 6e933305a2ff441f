import Foundation
import Testing
import PleuraTestSupport

/// `pleura label` / `pleura run` refuse bad sessions and keymaps with one line naming FILE:LINE,
/// before the terminal is touched (nothing on stdout, so no escape sequence reached it).
@Suite struct LabelCommandTests {
    private func session(_ text: String, in dir: URL) throws -> URL {
        let url = dir.appendingPathComponent("bad.toml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func malformedSessionStopsWithFileLineReason() throws {
        let dir = try TestEnv.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = try session("name = \"x\"\nmedia = \"*.mp4\"\nmode = \"labels\"\n", in: dir)
        for command in ["label", "run"] {
            let r = try runPleura([command, url.path])
            #expect(r.status == 1)
            #expect(r.stdout.isEmpty)
            #expect(r.stderrText == "pleura: \(url.path):3: mode 'labels' must be label, rate or review\n")
        }
    }

    @Test func mediaPatternMatchingNothingNamesItsLine() throws {
        let dir = try TestEnv.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = try session("name = \"x\"\n\nmedia = [\"clips/*.mp4\"]\n", in: dir)
        let r = try runPleura(["label", url.path])
        #expect(r.stderrText == "pleura: \(url.path):3: media pattern 'clips/*.mp4' matches no file (it is relative to the session file)\n")
    }

    @Test func malformedUserKeymapStopsWithFileLineReason() throws {
        let dir = try TestEnv.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("config/pleura")
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
        let keymap = config.appendingPathComponent("keymap.toml")
        try "# mine\nquit = [\"Q\"]\nzoom = [\"z\"]\n".write(to: keymap, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("a.mp4").path, contents: Data())
        let url = try session("media = \"a.mp4\"\n", in: dir)
        let r = try runPleura(["label", url.path], environment: ["XDG_CONFIG_HOME": dir.appendingPathComponent("config").path])
        #expect(r.status == 1)
        #expect(r.stderrText.hasPrefix("pleura: \(keymap.path):3: unknown action 'zoom' (actions: next_frame,"))
        // A key already taken by another action.
        try "undo = [\"q\"]\n".write(to: keymap, atomically: true, encoding: .utf8)
        let r2 = try runPleura(["label", url.path], environment: ["XDG_CONFIG_HOME": dir.appendingPathComponent("config").path])
        #expect(r2.stderrText.hasPrefix("pleura: \(keymap.path):1: key 'q' is bound twice: to quit ("))
    }

    @Test func labelRefusesASessionOfAnotherMode() throws {
        let dir = try TestEnv.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = try session("mode = \"rate\"\nmedia = \"*\"\n", in: dir)
        let r = try runPleura(["label", url.path])
        #expect(r.stderrText == "pleura: \(url.path): is a rate session; open it with pleura rate or pleura run\n")
    }

    @Test func missingSessionFileSaysWhereSessionsLive() throws {
        let r = try runPleura(["label", "/nonexistent/s.toml"])
        #expect(r.status == 1)
        #expect(r.stderrText.contains("/nonexistent/s.toml: no such session file"))
    }
}
