import Foundation
import Testing
import PleuraCore
import PleuraTestSupport

// Issue 15's failure classes as a user meets them on the command line.

@Suite struct ArgumentErrorTests {
    /// Every command-line mistake: one `pleura: …` line naming the help to read, exit 64.
    @Test func everyMistakeIsOneLineWithTheHint() throws {
        let cases: [([String], String)] = [
            (["frame", "x.mp4", "--index", "-1", "-o", "o.png"], "--index -1: negative values are not accepted"),
            (["frame", "x.mp4", "--index", "many", "-o", "o.png"], "'many'"),
            (["frame", "--index", "3"], "Missing expected argument"),
            (["import", "f.csv"], "--store"),
            (["export", "--store", "s.sqlite", "--format", "xml"], "xml"),
            (["probe", "--no-such-flag", "a.mp4"], "--no-such-flag"),
            (["no-such-command"], "no-such-command"),
            (["phantom", "-o", "d", "--count", "-3"], "--count -3"),
        ]
        for (arguments, part) in cases {
            let r = try runPleura(arguments)
            #expect(r.status == 64, "\(arguments): status \(r.status)")
            let lines = r.stderrText.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            #expect(lines.count == 1, "\(arguments): \(r.stderrText)")
            #expect(r.stderrText.hasPrefix("pleura: "), "\(arguments): \(r.stderrText)")
            #expect(r.stderrText.contains(part), "\(arguments): \(r.stderrText)")
            #expect(r.stderrText.contains("--help`)"), "\(arguments): \(r.stderrText)")
            #expect(!r.stderrText.contains("Missing value"), "\(arguments): \(r.stderrText)")
        }
    }

    @Test func helpStaysFull() throws {
        for arguments in [["--help"], ["frame", "--help"], ["help", "import"]] {
            let r = try runPleura(arguments)
            #expect(r.status == 0, "\(arguments)")
            #expect(r.stdoutText.contains("USAGE:") && r.stdoutText.split(separator: "\n").count > 5, "\(arguments): \(r.stdoutText)")
        }
    }
}

@Suite struct TerminalSafeOutputTests {
    static let hostile = ["csi\u{9B}31m", "osc\u{9D}0;x\u{9C}", "rlo\u{202E}4pm.exe", "isolate\u{2066}x\u{2069}", "esc\u{1B}[2J", "bel\u{07}"]

    /// probe's JSON escapes C1 controls and bidi overrides; the error line shows `?` instead.
    @Test(.enabled(if: TestEnv.which("ffmpeg") != nil, "skipped: ffmpeg is not installed"))
    func probeJSONAndErrorsAreSafe() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-safe-out")
        let clip = dir.appendingPathComponent("clip.png")
        let made = try runProgram(TestEnv.which("ffmpeg")!, ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x24", "-frames:v", "1", clip.path])
        try #require(made.status == 0, "\(made.stderrText)")
        for name in Self.hostile {
            let path = dir.appendingPathComponent(name + ".png").path
            try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.copyItem(atPath: clip.path, toPath: path)
            let r = try runPleura(["probe", path, path + ".missing"])
            #expect(r.status == 1)
            #expect(!r.stdoutText.unicodeScalars.contains { SafeText.isUnsafe($0) && $0 != "\n" }, "\(name): \(r.stdoutText.debugDescription)")
            #expect(!r.stderrText.unicodeScalars.contains { SafeText.isUnsafe($0) && $0 != "\n" }, "\(name): \(r.stderrText.debugDescription)")
            // The JSON still says exactly the file's name.
            let object = try JSONSerialization.jsonObject(with: Data(r.stdoutText.utf8)) as? [String: Any]
            #expect(object?["path"] as? String == path, "\(name)")
            #expect(r.stderrText.hasPrefix("pleura: ") && r.stderrText.contains("?"))
        }
    }

    /// stats --json names annotators: C1 and bidi arrive as \u escapes.
    @Test func statsJSONIsSafe() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-safe-stats")
        let store = dir.appendingPathComponent("s.sqlite").path
        let jsonl = dir.appendingPathComponent("in.jsonl")
        let sha = SHA256.hex(of: Array("x".utf8))
        try #"{"annotator":"a","media":"sha256:\#(sha)","sha256":"\#(sha)","severity":1}"#.write(to: jsonl, atomically: true, encoding: .utf8)
        // Media registered through the pleura CLI would need a file: use the POCUS-free route of a
        // label import against media registered by `add` of a tiny image instead.
        let png = dir.appendingPathComponent("i.png")
        try Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABc3UBGAAAAABJRU5ErkJggg==")!.write(to: png)
        #expect(try runPleura(["add", png.path, "--store", store]).status == 0)
        var lines = ""
        for (i, name) in Self.hostile.enumerated() {
            lines += #"{"annotator":\#(SafeText.jsonQuoted(name)),"media":"i.png","severity":\#(i % 4)}"# + "\n"
        }
        try lines.write(to: jsonl, atomically: true, encoding: .utf8)
        let imp = try runPleura(["import", jsonl.path, "--store", store, "--root", dir.path])
        #expect(imp.status == 0, "\(imp.stderrText)")
        #expect(!imp.stdoutText.unicodeScalars.contains { SafeText.isUnsafe($0) && $0 != "\n" })
        for arguments in [["stats", "--store", store, "--json"], ["stats", "--store", store]] {
            let r = try runPleura(arguments)
            #expect(r.status == 0, "\(r.stderrText)")
            #expect(!r.stdoutText.unicodeScalars.contains { SafeText.isUnsafe($0) && $0 != "\n" }, "\(arguments): \(r.stdoutText.debugDescription)")
        }
    }
}

@Suite struct NonUTF8NameTests {
    /// POSIX names are bytes: a name with bytes that are not UTF-8 opens, and prints safely.
    @Test(.enabled(if: TestEnv.which("ffmpeg") != nil, "skipped: ffmpeg is not installed"))
    func filesWhoseNamesAreNotUTF8Open() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-bytes")
        let clip = dir.appendingPathComponent("clip.png")
        let made = try runProgram(TestEnv.which("ffmpeg")!, ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x24", "-frames:v", "1", clip.path])
        try #require(made.status == 0)
        let csvHeader = "media,frame,annotator,a_lines,b1_lines,b2_lines,consolidation,severity,quality,note"
        // Latin-1 é, a lone continuation byte, an overlong '/', a truncated 3-byte sequence.
        for (n, bytes) in ["caf\\351", "x\\200y", "over\\300\\257long", "cut\\342\\202"].enumerated() {
            let script = """
                set -e
                cd '\(dir.path)'
                f=$(printf 'scan-\(bytes).png'); cp clip.png "$f"
                l=$(printf 'labels-\(bytes).csv'); printf '\(csvHeader)\\nclip.png,0,alice,1,,,,2,,\\n' > "$l"
                '\(TestEnv.pleuraBinary.path)' probe "$f"
                '\(TestEnv.pleuraBinary.path)' add "$f" --store s\(n).sqlite
                '\(TestEnv.pleuraBinary.path)' add clip.png --store s\(n).sqlite
                '\(TestEnv.pleuraBinary.path)' import "$l" --store s\(n).sqlite
                '\(TestEnv.pleuraBinary.path)' probe "$f.missing" || true
                """
            let r = try runProgram("/bin/sh", ["-c", script])
            #expect(r.status == 0, "\(bytes): \(r.stderrText)")
            #expect(r.stdoutText.contains("\"kind\":\"image\""), "\(bytes): \(r.stdoutText)")
            #expect(r.stdoutText.contains("1 added"), "\(bytes): \(r.stdoutText)")
            #expect(r.stdoutText.contains("1 rows, 2 changes recorded"), "\(bytes): \(r.stdoutText)")
            #expect(r.stdoutText.contains("\\ufffd") || r.stdoutText.contains("\u{FFFD}"), "\(bytes): \(r.stdoutText)")
            #expect(r.stderrText.contains("no such file") && r.stderrText.contains("\u{FFFD}"), "\(bytes): \(r.stderrText)")
            #expect(!r.stdoutText.unicodeScalars.contains { SafeText.isUnsafe($0) && $0 != "\n" })
        }
    }
}

@Suite struct ImportCLITests {
    @Test func wrongShapesAndMissingFramesAreOneLineAndExitOne() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-import-cli")
        let store = dir.appendingPathComponent("s.sqlite").path
        let png = dir.appendingPathComponent("i.png")
        try Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABc3UBGAAAAABJRU5ErkJggg==")!.write(to: png)
        #expect(try runPleura(["add", png.path, "--store", store]).status == 0)
        let cases: [(String, String, String)] = [
            ("tasks.json", #"{"data":{"media":"i.png"}}"#, "expected a JSON array"),
            ("l.jsonl", #"{"annotator":"a","media":"i.png","severity":"2"}"#, "severity must be an integer"),
            ("l.csv", "media,frame,annotator,a_lines,b1_lines,b2_lines,consolidation,severity,quality,note\ni.png,1,a,1,,,,,,\n", "does not exist in i.png"),
            ("e.csv", "media,frame,annotator,a_lines,b1_lines,b2_lines,consolidation,severity,quality,note\n", "nothing to import"),
        ]
        for (name, text, reason) in cases {
            let file = dir.appendingPathComponent(name)
            try text.write(to: file, atomically: true, encoding: .utf8)
            let r = try runPleura(["import", file.path, "--store", store, "--root", dir.path])
            #expect(r.status == 1, "\(name)")
            #expect(r.stderrText.split(separator: "\n").count == 1 && r.stderrText.hasPrefix("pleura: \(file.path): "), "\(r.stderrText)")
            #expect(r.stderrText.contains(reason), "\(name): \(r.stderrText)")
        }
        let verify = try runPleura(["store", "verify", "--store", store])
        #expect(verify.status == 0 && verify.stdoutText.contains("ok (0 events"), "\(verify.stdoutText)\(verify.stderrText)")
    }
}

/// A model whose outputs are not finite: one line naming the model, nothing stored, never a
/// Foundation JSON error. Three ways to be broken: NaN logits, +inf logits (both caught at load,
/// on the card's blank input), NaN features only for bright inputs (caught per frame by heatmap
/// and infer).
@Suite(.serialized) struct NonFiniteModelTests {
    static func model(in dir: URL, name: String, head: String, features: String) throws -> URL {
        let pt = dir.appendingPathComponent("\(name).pt")
        let code = """
            import torch, torch.nn as nn
            from typing import Dict
            class Broken(nn.Module):
                def __init__(self):
                    super().__init__(); self.conv = nn.Conv2d(1, 4, 3, 2, 1); self.fc = nn.Linear(4, 2)
                @torch.jit.export
                def features(self, x: torch.Tensor) -> torch.Tensor:
                    a = torch.relu(self.conv(x))
                    return \(features)
                @torch.jit.export
                def head(self, a: torch.Tensor) -> Dict[str, torch.Tensor]:
                    y = self.fc(a.mean(dim=(2, 3)))
                    return {"diagnosis": \(head)}
                def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]: return self.head(self.features(x))
            torch.manual_seed(0); torch.jit.script(Broken().eval()).save("\(pt.path)")
            """
        let script = dir.appendingPathComponent("make_\(name).py")
        try code.write(to: script, atomically: true, encoding: .utf8)
        let r = try runProgram(ModelCLITests.python, [script.path])
        try #require(r.status == 0, "could not script the model: \(r.stderrText)")
        try ModelCLITests.writeCard(for: pt, classes: ["covid", "healthy"])
        return pt
    }

    @Test(.enabled(if: ModelCLITests.hasTorch, "skipped: /usr/bin/python3 with torch is absent"),
          .enabled(if: TestEnv.which("ffmpeg") != nil, "skipped: ffmpeg is not installed"))
    func nonFiniteOutputsAreNamedAndNeverStored() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-nan")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = dir.appendingPathComponent("white.mp4").path
        let made = try runProgram(TestEnv.which("ffmpeg")!, ["-v", "error", "-f", "lavfi", "-i", "color=white:size=64x48:rate=5",
                                                             "-frames:v", "3", "-pix_fmt", "yuv420p", clip])
        try #require(made.status == 0)
        let cases: [(String, String, String, String)] = [
            ("always-nan", "y * float('nan')", "a", "is nan"),
            ("always-inf", "y + float('inf')", "a", "is inf"),
            // Finite on the blank input the loader tries, NaN on a white frame (normalised to 2.0).
            ("bright-nan-features", "y", "torch.where(x.mean() > 0.5, a * float('nan'), a)", "features(x) hold nan"),
        ]
        for (name, head, features, reason) in cases {
            let pt = try Self.model(in: dir, name: name, head: head, features: features)
            let store = dir.appendingPathComponent("\(name).sqlite").path
            let infer = try runPleura(["infer", "--store", store, "--model", pt.path, "--quiet", clip])
            #expect(infer.status == 1, "\(name): \(infer.stderrText)")
            let lines = infer.stderrText.split(separator: "\n")
            #expect(lines.count == 1, "\(name): \(infer.stderrText)")
            #expect(infer.stderrText.hasPrefix("pleura: \(pt.path): "), "\(name): \(infer.stderrText)")
            #expect(infer.stderrText.contains(reason), "\(name): \(infer.stderrText)")
            #expect(!infer.stderrText.contains("JSON"), "\(name): \(infer.stderrText)")
            if FileManager.default.fileExists(atPath: store) {
                let exported = try runPleura(["export", "--store", store, "--format", "csv", "--kind", "predictions", "-o", "-"])
                #expect(exported.stdoutText.split(separator: "\n").count <= 1, "\(name): predictions were stored: \(exported.stdoutText)")
            }
            let heatmap = try runPleura(["heatmap", clip, "--index", "0", "--model", pt.path, "-o", dir.appendingPathComponent("\(name).npy").path])
            #expect(heatmap.status == 1 && heatmap.stderrText.split(separator: "\n").count == 1, "\(name): \(heatmap.stderrText)")
            #expect(heatmap.stderrText.contains(pt.path) && !heatmap.stderrText.contains("JSON"), "\(name): \(heatmap.stderrText)")
        }
    }
}
