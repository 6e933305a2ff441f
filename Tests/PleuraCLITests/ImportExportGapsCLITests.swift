import Foundation
import Testing
import PleuraCore
import PleuraTestSupport

// Issue 15's last bad-input gaps on the command line: folders holding names that are not UTF-8,
// and exports written straight to a terminal.

@Suite struct FolderWithNonUTF8NamesTests {
    /// `pleura add DIR` walks the folder by the names' bytes: files (and subfolders) whose names
    /// are not UTF-8 are found, registered and reported safely.
    @Test(.enabled(if: TestEnv.which("ffmpeg") != nil, "skipped: ffmpeg is not installed"))
    func addFindsEveryFileOfAFolderWhateverItsNameBytes() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-folder-bytes")
        let clip = dir.appendingPathComponent("clip.png")
        // Three different pictures, so each is new content.
        for (n, size) in ["16x16", "24x16", "32x16"].enumerated() {
            let out = n == 0 ? clip.path : dir.appendingPathComponent("other\(n).png").path
            let made = try runProgram(TestEnv.which("ffmpeg")!, ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=\(size)", "-frames:v", "1", out])
            try #require(made.status == 0)
        }
        let script = """
            set -e
            cd '\(dir.path)'
            mkdir -p "media/$(printf 'ward-\\351')/$(printf 'sub\\377')" media/plain
            cp clip.png "media/$(printf 'ward-\\351')/$(printf 'scan-\\200\\033[31m.png')"
            cp other1.png "media/$(printf 'ward-\\351')/$(printf 'sub\\377')/$(printf 'x\\342\\202.PNG')"
            cp other2.png media/plain/ok.png
            printf 'not media' > "media/$(printf 'notes-\\377.txt')"
            '\(TestEnv.pleuraBinary.path)' add media --store s.sqlite
            '\(TestEnv.pleuraBinary.path)' add media --store s.sqlite
            """
        let r = try runProgram("/bin/sh", ["-c", script])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(r.stdoutText.contains("3 added, 0 moved, 0 already registered"), "\(r.stdoutText)")
        #expect(r.stdoutText.contains("0 added, 0 moved, 3 already registered"), "\(r.stdoutText)")
        // The progress line names the files with U+FFFD for the bytes and '?' for the ESC.
        #expect(r.stderrText.contains("scan-\u{FFFD}?[31m.png"), "\(r.stderrText.debugDescription)")
        let plainStderr = r.stderrText.replacingOccurrences(of: "\r\u{1B}[K", with: "")
        #expect(!plainStderr.unicodeScalars.contains { SafeText.isUnsafe($0) && $0 != "\n" }, "\(plainStderr.debugDescription)")

        let probe = try runProgram("/bin/sh", ["-c", "cd '\(dir.path)' && '\(TestEnv.pleuraBinary.path)' probe \"media/$(printf 'ward-\\351')/$(printf 'sub\\377')/$(printf 'x\\342\\202.PNG')\""])
        #expect(probe.status == 0, "\(probe.stderrText)")
    }
}

@Suite struct ExportToTerminalTests {
    /// A store whose note and file name hold ESC, a C1 CSI and a bidi override.
    static func hostileStore() throws -> (dir: URL, store: String) {
        let dir = try TestEnv.makeTempDirectory("pleura-export-tty")
        let store = dir.appendingPathComponent("s.sqlite").path
        let png = dir.appendingPathComponent("evil\u{1B}]0;owned\u{07}\u{202E}gnp.png")
        try Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABc3UBGAAAAABJRU5ErkJggg==")!.write(to: png)
        #expect(try runPleura(["add", png.path, "--store", store]).status == 0)
        let csv = dir.appendingPathComponent("l.csv")
        let row = "\"\(png.lastPathComponent)\",0,alice,1,,,,2,,\"red \u{1B}[31m csi \u{9B}2J rtl \u{202E}x \u{07}\"\n"
        try ("media,frame,annotator,a_lines,b1_lines,b2_lines,consolidation,severity,quality,note\n" + row)
            .write(to: csv, atomically: true, encoding: .utf8)
        let imported = try runPleura(["import", csv.path, "--store", store, "--root", dir.path])
        #expect(imported.status == 0, "\(imported.stderrText)")
        return (dir, store)
    }

    static let hostile: Set<Unicode.Scalar> = ["\u{1B}", "\u{9B}", "\u{202E}", "\u{07}"]

    /// Written to a terminal (a pty from `script`), every format is terminal-safe: CSV shows `?`,
    /// JSON uses `\u` escapes; into a pipe the bytes are exactly the note's.
    @Test(.enabled(if: TestEnv.which("script") != nil, "skipped: script (bsdutils) is not installed"))
    func exportToATerminalIsSafeAndToAPipeExact() throws {
        let (dir, store) = try Self.hostileStore()
        for format in ["csv", "jsonl", "labelstudio"] {
            let piped = try runPleura(["export", "--store", store, "--format", format, "-o", "-", "--root", dir.path])
            #expect(piped.status == 0, "\(format): \(piped.stderrText)")
            if format == "csv" {
                #expect(piped.stdoutText.contains("red \u{1B}[31m csi \u{9B}2J rtl \u{202E}x \u{07}"), "\(format): exact bytes into a pipe")
            }
            let command = "'\(TestEnv.pleuraBinary.path)' export --store '\(store)' --format \(format) -o - --root '\(dir.path)'"
            let tty = try runProgram(TestEnv.which("script")!, ["-qec", command, "/dev/null"])
            #expect(tty.status == 0, "\(format): \(tty.stderrText)")
            let text = tty.stdoutText
            #expect(text.contains("alice"), "\(format): \(text.debugDescription)")
            #expect(!text.unicodeScalars.contains { Self.hostile.contains($0) }, "\(format): \(text.debugDescription)")
            if format == "csv" {
                #expect(text.contains("red ?[31m csi ?2J rtl ?x ?"), "\(text.debugDescription)")
            } else {
                #expect(text.contains("\\u001b[31m csi \\u009b2J rtl \\u202ex \\u0007"), "\(format): \(text.debugDescription)")
            }
        }
    }
}
