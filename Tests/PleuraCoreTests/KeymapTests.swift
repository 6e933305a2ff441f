import Foundation
import Testing
import PleuraTestSupport
@testable import PleuraCore

@Suite struct KeymapTests {
    static let keymaps = TestEnv.packageRoot.appendingPathComponent("Keymaps")

    @Test(arguments: ["default", "vim", "keypad"])
    func shippedKeymapsBindEveryAction(name: String) throws {
        let map = try Keymap.load(Self.keymaps.appendingPathComponent("\(name).toml"))
        for action in Action.allCases { #expect(!map.keys(for: action).isEmpty, "\(name): \(action)") }
    }

    /// The default keys are a promise to scripts (issue #5): exactly these.
    @Test func defaultKeysAreTheDocumentedOnes() throws {
        let map = try Keymap.load(Self.keymaps.appendingPathComponent("default.toml"))
        let expected: [(String, Action)] = [
            ("Right", .nextFrame), ("l", .nextFrame), ("Left", .previousFrame), ("h", .previousFrame),
            ("L", .forward10), ("H", .back10), ("g", .firstFrame), ("G", .lastFrame), (":", .goToFrame),
            ("Space", .playPause), ("n", .nextItem), ("p", .previousItem), ("a", .toggleALines),
            ("b", .toggleB1Lines), ("B", .toggleB2Lines), ("c", .toggleConsolidation),
            ("0", .severity0), ("1", .severity1), ("2", .severity2), ("3", .severity3),
            ("v", .videoLevel), ("x", .poorQuality), ("N", .note), (".", .carryForward),
            ("u", .undo), ("Ctrl-r", .redo), ("?", .help), ("q", .quit), ("f", .unlabelledOnly),
        ]
        for (key, action) in expected { #expect(map.action(for: try Key(parsing: key)) == action, "\(key)") }
        #expect(map.label(for: .nextFrame) == "→/l")
    }

    @Test func keySpellings() throws {
        #expect(try Key(parsing: "Ctrl-R") == .control("r"))
        #expect(try Key(parsing: "^r") == .control("r"))
        #expect(try Key(parsing: "space") == .named(.space))
        #expect(try Key(parsing: " ") == .named(.space))
        #expect(try Key(parsing: "L") == .character("L"))
        #expect(throws: KeyParseError.self) { try Key(parsing: "Rigth") }
        #expect(throws: KeyParseError.self) { try Key(parsing: "\u{1B}") }
    }

    private func error(_ text: String, file: String = "km.toml") -> String {
        do { _ = try Keymap.parse(text, file: file); return "no error" } catch let e as PleuraError { return e.description } catch { return "\(error)" }
    }

    private static let base = (try? String(contentsOf: keymaps.appendingPathComponent("default.toml"), encoding: .utf8)) ?? ""

    @Test func unknownActionNamesItsLine() {
        let text = Self.base + "\nzoom_in = [\"z\"]\n"
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("zoom_in") }! + 1
        #expect(error(text).hasPrefix("km.toml:\(line): unknown action 'zoom_in' (actions: next_frame, "))
    }

    @Test func duplicateKeyNamesTheLaterLineAndTheFirstBinding() {
        let text = "next_frame = [\"l\"]\nquit = [\"q\",\n  \"l\"]\n"
        #expect(error(text) == "km.toml:3: key 'l' is bound twice: to next_frame (line 1) and to quit")
    }

    @Test func badValues() {
        #expect(error("next_frame = \"l\"\n") == "km.toml:1: next_frame must be a list of keys, like [\"Right\", \"l\"]")
        #expect(error("\n\nnext_frame = [1]\n") == "km.toml:3: next_frame must be a list of key names in quotes, like [\"Right\", \"l\"]")
        #expect(error("next_frame = [\"l\",\n \"Rigth\"]\n").hasPrefix("km.toml:2: next_frame: unknown key 'Rigth' (use one character"))
        #expect(error("next_frame = [\"l\", \"l\"]\n") == "km.toml:1: next_frame: key 'l' is listed twice")
        #expect(error("next_frame = [\"l\"\n").hasPrefix("km.toml:"))
        #expect(error("next_frame = [\"l\"]\n").hasPrefix("km.toml:1: no key for previous_frame, forward_10"))
    }

    @Test func syntaxErrorsCarryTOMLKitsLine() {
        #expect(error("next_frame = [\"l\"]\n\nquit = = \n").hasPrefix("km.toml:3: TOML syntax:"))
    }

    @Test func userOverrideReplacesSingleActionsAndReportsConflicts() throws {
        let base = try Keymap.parse(Self.base, file: "default.toml")
        let moved = try base.overriding(with: "quit = [\"Q\"]\nundo = [\"z\", \"u\"]\n", file: "user.toml")
        #expect(moved.action(for: .character("q")) == nil)
        #expect(moved.action(for: .character("Q")) == .quit)
        #expect(moved.action(for: .character("z")) == .undo)
        #expect(moved.action(for: .character("l")) == .nextFrame)
        // Taking a key another action still holds is an error naming both places.
        let baseLine = Self.base.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("poor_quality") }! + 1
        do {
            _ = try base.overriding(with: "\nquit = [\"x\"]\n", file: "user.toml")
            Issue.record("expected a conflict")
        } catch let e as PleuraError {
            #expect(e.description == "user.toml:2: key 'x' is bound twice: to poor_quality (default.toml:\(baseLine)) and to quit (list poor_quality here too to give it other keys)")
        }
        // Moving both works.
        let swapped = try base.overriding(with: "quit = [\"x\"]\npoor_quality = [\"X\"]\n", file: "user.toml")
        #expect(swapped.action(for: .character("x")) == .quit)
    }

    @Test func loadAppliesTheUserOverrideFile() throws {
        let dir = try TestEnv.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let user = dir.appendingPathComponent("keymap.toml")
        try "help = [\"F1\"]\n".write(to: user, atomically: true, encoding: .utf8)
        let map = try Keymap.load(Self.keymaps.appendingPathComponent("default.toml"), userOverride: user)
        #expect(map.action(for: .named(.f1)) == .help)
        #expect(map.action(for: .character("?")) == nil)
        #expect(map.sources.count == 2)
    }

    /// Per-mode tables: a key may mean one thing in label mode and another in rate mode, but not
    /// clash with [common]; a flat keymap gets the rate table from default.toml.
    @Test func modeTablesAndFlatFiles() throws {
        let map = try Keymap.load(Self.keymaps.appendingPathComponent("default.toml"))
        #expect(map.action(for: .character("1"), in: .label) == .severity1)
        #expect(map.action(for: .character("1"), in: .rate) == .ratePoint1)
        #expect(map.action(for: .named(.left), in: .rate) == .cursorLeft)
        #expect(map.action(for: .character("n"), in: .rate) == .nextItem)
        let vim = try Keymap.load(Self.keymaps.appendingPathComponent("keypad.toml"))
        #expect(vim.action(for: .character("7"), in: .label) == .firstFrame)
        #expect(vim.action(for: .character("7"), in: .rate) == .ratePoint7)
        let clash = error("[common]\nquit = [\"1\"]\n[rate]\nrate_point_1 = [\"1\"]\n")
        #expect(clash.hasPrefix("km.toml:4: key '1' is bound twice: to quit (line 2) and to rate_point_1"), "\(clash)")
        #expect(error("[rate]\nnext_frame = [\"l\"]\n") == "km.toml:2: next_frame belongs in [label], not [rate]")
    }
}
