import Foundation
import PleuraCore
import PleuraTestSupport
import Testing

/// `pleura infer` into a store (resumable, interrupt-safe), the preprocessing against the training
/// script's, and that commands without a model never load libtorch.
@Suite(.serialized) struct InferCLITests {
    /// A short clip: a real POCUS video when present, else an ffmpeg test pattern.
    static func clip(in dir: URL) throws -> (String, Int) {
        if let pocus = TestEnv.pocusDirectory {
            return (pocus.appendingPathComponent("pocus_videos/convex/Cov_combatting_Image2.mp4").path, 10)
        }
        let ffmpeg = try #require(TestEnv.which("ffmpeg"), "ffmpeg is needed to make a test clip")
        let path = dir.appendingPathComponent("pattern.mp4").path
        let r = try runProgram(ffmpeg, ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-frames:v", "20",
                                        "-pix_fmt", "yuv420p", path])
        try #require(r.status == 0, "ffmpeg failed: \(r.stderrText)")
        return (path, 2)
    }

    @Test(.enabled(if: ModelCLITests.hasTorch, "skipped: /usr/bin/python3 with torch is absent"))
    func inferStoresPredictionsAndResumes() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-infer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ModelCLITests.tinyModel(in: dir)
        let (clip, every) = try Self.clip(in: dir)
        let store = dir.appendingPathComponent("s.db").path
        let first = try runPleura(["infer", "--store", store, "--model", model.path, "--every", String(every), clip])
        #expect(first.status == 0, "\(first.stderrText)")
        let last = first.stderrText.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("frames/s") && last.contains("done in"), "progress line: \(last)")
        let total = try #require(last.split(separator: " ").dropFirst().first?.split(separator: "/").last.flatMap { Int($0) })
        #expect(total > 0)
        // Second run: everything is already there.
        let again = try runPleura(["infer", "--store", store, "--model", model.path, "--every", String(every), clip])
        #expect(again.status == 0)
        #expect(again.stderrText.contains("(\(total) already done)"), "\(again.stderrText)")
        // The predictions come back out through `pleura export`: one row per frame and class.
        let csv = dir.appendingPathComponent("p.csv").path
        let export = try runPleura(["export", "--store", store, "--kind", "predictions", "--format", "csv", "-o", csv])
        #expect(export.status == 0, "\(export.stderrText)")
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(lines.first?.hasPrefix("media,frame,model,head,") == true)
        #expect(lines.count == 1 + total * 2)   // tiny model: one head, 2 classes
        if let sqlite = TestEnv.which("sqlite3") {
            let rows = try runProgram(sqlite, [store, "SELECT count(*) FROM heatmap;"])
            #expect(rows.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "\(total)")
        }
    }

    @Test(.enabled(if: ModelCLITests.hasTorch, "skipped: /usr/bin/python3 with torch is absent"))
    func dumpedInputEqualsTheTrainingPreprocessing() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-prep")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ModelCLITests.tinyModel(in: dir)
        var state: UInt64 = 3
        let px = (0..<(70 * 93 * 3)).map { _ -> UInt8 in state = state &* 6364136223846793005 &+ 1; return UInt8(state >> 56) }
        let img = dir.appendingPathComponent("rgb.npy").path
        try NumpyArray(shape: [70, 93, 3], bytes: px).write(path: img)
        let dumped = dir.appendingPathComponent("in.npy").path
        let r = try runPleura(["heatmap", img, "--model", model.path, "-o", dir.appendingPathComponent("m.npy").path, "--dump-input", dumped])
        try #require(r.status == 0, "\(r.stderrText)")
        let check = """
            import sys, numpy as np, torch
            sys.path.insert(0, "\(TestEnv.packageRoot.appendingPathComponent("Scripts").path)")
            import train_model as t
            t.INPUT = 32
            x = (t.to_model_input(torch.from_numpy(np.load("\(img)"))) - 0.5) / 0.25
            print(float((x - torch.from_numpy(np.load("\(dumped)"))[0, 0]).abs().max()))
            """
        let py = try runProgram(ModelCLITests.python, ["-c", check])
        try #require(py.status == 0, "\(py.stderrText)")
        let diff = try #require(Double(py.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(diff < 1e-5, "pleura's input differs from train_model.py's preprocessing by \(diff)")
    }

    @Test(.enabled(if: ModelCLITests.hasTorch, "skipped: /usr/bin/python3 with torch is absent"))
    func interruptedInferKeepsWhatItSavedAndResumes() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-interrupt")
        defer { try? FileManager.default.removeItem(at: dir) }
        // The embedded model (about 25 ms a frame) leaves time to interrupt; the tiny one may finish first.
        let model = FileManager.default.fileExists(atPath: ModelCLITests.embedded.path) ? ModelCLITests.embedded
            : try ModelCLITests.tinyModel(in: dir)
        let (clip, _) = try Self.clip(in: dir)
        let store = dir.appendingPathComponent("s.db").path
        let p = Process()
        p.executableURL = TestEnv.pleuraBinary
        p.arguments = ["infer", "--store", store, "--model", model.path, clip]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        // Wait for the first committed frames, then Ctrl-C.
        let deadline = Date().addingTimeInterval(60)
        let sqlite = TestEnv.which("sqlite3")
        while Date() < deadline {
            if let sqlite {
                let n = try runProgram(sqlite, [store, "SELECT count(*) FROM prediction"]).stdoutText
                if (Int(n.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0 { break }
            } else {
                let size = (try? FileManager.default.attributesOfItem(atPath: store + "-wal")[.size] as? Int) ?? 0
                if size > 200_000 { break }
            }
            usleep(50_000)
        }
        kill(p.processIdentifier, SIGINT)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus == 0 {
            // The clip was too short to interrupt on this machine: nothing left to check.
            print("interruptedInferKeepsWhatItSavedAndResumes: infer finished before SIGINT arrived")
            return
        }
        #expect(p.terminationStatus == 1)
        #expect(text.contains("interrupted after") && text.contains("run the same command again to resume"), "\(text)")
        let resumed = try runPleura(["infer", "--store", store, "--model", model.path, clip])
        #expect(resumed.status == 0, "\(resumed.stderrText)")
        #expect(resumed.stderrText.contains("already done"), "\(resumed.stderrText)")
    }

    /// `pleura` itself does not link libtorch: only the dlopen'ed shim does.
    @Test func pleuraBinaryDoesNotLinkLibtorch() throws {
        let ldd = try #require(TestEnv.which("ldd"))
        let r = try runProgram(ldd, [TestEnv.pleuraBinary.path])
        #expect(r.status == 0)
        #expect(!r.stdoutText.contains("libtorch"), "pleura links libtorch directly:\n\(r.stdoutText)")
        let shim = TestEnv.pleuraBinary.deletingLastPathComponent().appendingPathComponent("libPleuraTorchShim.so").path
        let s = try runProgram(ldd, [shim])
        #expect(s.stdoutText.contains("libtorch_cpu"), "the shim should carry libtorch: \(s.stdoutText)")
    }
}
