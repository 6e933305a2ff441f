import Foundation
import PleuraCore
import PleuraTestSupport
import Testing

/// `pleura heatmap` against an independent Python reference (Scripts/cam_reference.py: torch.autograd
/// on the tensor `--dump-input` wrote), and the one-line errors for bad model files.
@Suite(.serialized) struct ModelCLITests {
    static let python = "/usr/bin/python3"
    static let hasTorch: Bool = {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        return ((try? runProgram(python, ["-c", "import torch, torchvision"]))?.status ?? 1) == 0
    }()
    static let embedded = TestEnv.packageRoot.appendingPathComponent("Models/pleura-lus-v1.pt")

    /// Five test frames (file, index): frames of a real POCUS clip, decoded by pleura itself, when the
    /// data is present, else seeded noise with structure as uint8 .npy images.
    static func frames(in dir: URL) throws -> [(String, Int)] {
        var paths: [(String, Int)] = []
        if let pocus = TestEnv.pocusDirectory {
            let clip = pocus.appendingPathComponent("pocus_videos/convex/Cov_combatting_Image2.mp4").path
            paths = [0, 7, 19, 33, 48].map { (clip, $0) }
        } else {
            var state: UInt64 = 42
            for i in 0..<5 {
                var px = [UInt8](repeating: 0, count: 240 * 320)
                for y in 0..<240 { for x in 0..<320 {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    let band = (y / (12 + 3 * i)) % 2 == 0 ? 150 : 40
                    px[y * 320 + x] = UInt8((band + Int(state >> 58)) % 256)
                } }
                let p = dir.appendingPathComponent("frame\(i).npy").path
                try NumpyArray(shape: [240, 320], bytes: px).write(path: p)
                paths.append((p, 0))
            }
        }
        return paths
    }

    /// Runs `pleura heatmap` for every frame × head × class × method and checks each map against the
    /// Python reference within 1e-4.
    func checkAgainstReference(model: String, heads: [(String, [String])], methods: [String]) throws {
        let dir = try TestEnv.makeTempDirectory("pleura-cam")
        defer { try? FileManager.default.removeItem(at: dir) }
        var jobs: [[String: Any]] = []
        for (f, (frame, index)) in try Self.frames(in: dir).enumerated() {
            for (head, classes) in heads {
                for (c, cls) in classes.enumerated() {
                    for method in methods {
                        let tag = "f\(f)-\(head)-\(c)-\(method)"
                        let map = dir.appendingPathComponent("\(tag).npy").path
                        let input = dir.appendingPathComponent("in-\(tag).npy").path
                        let r = try runPleura(["heatmap", frame, "--index", String(index), "--model", model, "--head", head, "--class", cls,
                                               "--method", method, "-o", map, "--dump-input", input])
                        try #require(r.status == 0, "pleura heatmap failed: \(r.stderrText)")
                        let array = try NumpyArray.read(path: map)
                        #expect(array.dtype == .float32 && array.shape.count == 2)
                        jobs.append(["input": input, "map": map, "head": head, "class_index": c, "method": method])
                    }
                }
            }
        }
        let jobsFile = dir.appendingPathComponent("jobs.json")
        try JSONSerialization.data(withJSONObject: jobs).write(to: jobsFile)
        let ref = try runProgram(Self.python, [TestEnv.packageRoot.appendingPathComponent("Scripts/cam_reference.py").path,
                                               model, jobsFile.path])
        try #require(ref.status == 0, "reference failed: \(ref.stderrText)")
        let lines = ref.stdoutText.split(separator: "\n")
        #expect(lines.count == jobs.count)
        var worst = 0.0
        for line in lines {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let diff = obj["max_abs_diff"] as! Double
            let job = jobs[obj["job"] as! Int]
            #expect(diff <= 1e-4, "map \(job["map"]!) differs from the reference by \(diff)")
            worst = max(worst, diff)
        }
        print("CAM vs reference: \(jobs.count) maps, worst max-abs-diff \(worst)")
    }

    static func cardHeads(_ model: URL) throws -> [(String, [String])] {
        let card = try JSONSerialization.jsonObject(with: Data(contentsOf: model.deletingPathExtension().appendingPathExtension("json"))) as! [String: Any]
        return (card["heads"] as! [[String: Any]]).map { ($0["name"] as! String, $0["classes"] as! [String]) }
    }

    @Test(.enabled(if: hasTorch, "skipped: /usr/bin/python3 with torch is absent"),
          .enabled(if: FileManager.default.fileExists(atPath: embedded.path), "skipped: Models/pleura-lus-v1.pt absent"))
    func embeddedModelHeatmapsMatchPythonReference() throws {
        try checkAgainstReference(model: Self.embedded.path, heads: try Self.cardHeads(Self.embedded),
                                  methods: ["gradcam", "gradcam++"])
    }

    @Test(.enabled(if: hasTorch, "skipped: /usr/bin/python3 with torch is absent"))
    func exportedTorchvisionModelHeatmapsMatchPythonReference() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-resnet")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("resnet18").path
        let r = try runProgram(Self.python, [TestEnv.packageRoot.appendingPathComponent("Scripts/export_model.py").path,
                                             "--arch", "resnet18", "--size", "160", "--out", out])
        try #require(r.status == 0, "export_model.py failed: \(r.stderrText)")
        try checkAgainstReference(model: out + ".pt", heads: [("diagnosis", ["covid", "pneumonia", "healthy"])],
                                  methods: ["gradcam", "gradcam++", "layercam"])
    }

    // MARK: Bad model files: one clear line each.

    /// A valid little model (tiny scripted CNN with features/head) plus helpers to break it.
    static func tinyModel(in dir: URL, withContract: Bool = true) throws -> URL {
        let pt = dir.appendingPathComponent("tiny.pt")
        let code = """
            import torch, torch.nn as nn
            from typing import Dict
            class Tiny(nn.Module):
                def __init__(self):
                    super().__init__(); self.conv = nn.Conv2d(1, 4, 3, 2, 1); self.fc = nn.Linear(4, 2)
            \(withContract ? """
                @torch.jit.export
                def features(self, x: torch.Tensor) -> torch.Tensor: return torch.relu(self.conv(x))
                @torch.jit.export
                def head(self, a: torch.Tensor) -> Dict[str, torch.Tensor]: return {"diagnosis": self.fc(a.mean(dim=(2, 3)))}
                def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]: return self.head(self.features(x))
            """ : """
                def forward(self, x: torch.Tensor) -> torch.Tensor: return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))
            """)
            torch.manual_seed(0); torch.jit.script(Tiny().eval()).save("\(pt.path)")
            """
        // TorchScript reads the class's source, so the script must be a real file.
        let script = dir.appendingPathComponent("make_tiny.py")
        try code.write(to: script, atomically: true, encoding: .utf8)
        let r = try runProgram(python, [script.path])
        try #require(r.status == 0, "could not script the tiny model: \(r.stderrText)")
        try writeCard(for: pt, classes: ["covid", "healthy"])
        return pt
    }

    static func writeCard(for pt: URL, classes: [String]) throws {
        let card: [String: Any] = [
            "name": "tiny", "input": ["width": 32, "height": 32, "channels": 1, "mean": [0.5], "std": [0.25]],
            "heads": [["name": "diagnosis", "kind": "multiclass", "classes": classes]],
        ]
        try JSONSerialization.data(withJSONObject: card).write(to: pt.deletingPathExtension().appendingPathExtension("json"))
    }

    func heatmapError(_ model: URL, _ dir: URL) throws -> String {
        let img = dir.appendingPathComponent("img.npy").path
        try NumpyArray(shape: [40, 40], bytes: [UInt8](repeating: 90, count: 1600)).write(path: img)
        let r = try runPleura(["heatmap", img, "--model", model.path, "-o", dir.appendingPathComponent("m.npy").path])
        #expect(r.status == 1)
        let lines = r.stderrText.split(separator: "\n")
        #expect(lines.count == 1, "expected one line, got: \(r.stderrText)")
        #expect(lines.first?.hasPrefix("pleura: ") == true)
        return r.stderrText
    }

    /// PLEURA_THREADS is read in one place (Model.threadCount) for every command and the TUI; a
    /// value that is not a thread count is one clear line, not a silent default.
    @Test func badThreadCountInTheEnvironmentIsOneLine() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-threads")
        defer { try? FileManager.default.removeItem(at: dir) }
        let img = dir.appendingPathComponent("img.npy").path
        try NumpyArray(shape: [40, 40], bytes: [UInt8](repeating: 90, count: 1600)).write(path: img)
        let r = try runPleura(["heatmap", img, "-o", dir.appendingPathComponent("m.npy").path],
                              environment: ["PLEURA_THREADS": "two"])
        #expect(r.status == 1)
        #expect(r.stderrText == "pleura: PLEURA_THREADS=two is not a thread count; use a whole number from 1\n", "\(r.stderrText)")
    }

    @Test(.enabled(if: hasTorch, "skipped: /usr/bin/python3 with torch is absent"))
    func tinyModelWorksAndBadModelsGiveOneClearLineEach() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-badmodel")
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try Self.tinyModel(in: dir)
        let img = dir.appendingPathComponent("ok.npy").path
        try NumpyArray(shape: [40, 40], bytes: (0..<1600).map { UInt8($0 % 251) }).write(path: img)
        let ok = try runPleura(["heatmap", img, "--model", good.path, "-o", dir.appendingPathComponent("ok-map.npy").path])
        #expect(ok.status == 0, "\(ok.stderrText)")
        #expect(try NumpyArray.read(path: dir.appendingPathComponent("ok-map.npy").path).shape == [32, 32])

        // Card that does not match the outputs (3 classes, the model has 2).
        try Self.writeCard(for: good, classes: ["covid", "pneumonia", "healthy"])
        let mismatch = try heatmapError(good, dir)
        #expect(mismatch.contains("tiny.json") && mismatch.contains("does not match") && mismatch.contains("2 outputs"))

        // Missing card.
        try FileManager.default.removeItem(at: good.deletingPathExtension().appendingPathExtension("json"))
        let missing = try heatmapError(good, dir)
        #expect(missing.contains("tiny.json") && missing.contains("card missing"))

        // Random bytes with a valid card.
        let junk = dir.appendingPathComponent("junk.pt")
        var state: UInt64 = 7
        let bytes = (0..<4096).map { _ -> UInt8 in state = state &* 6364136223846793005 &+ 1; return UInt8(state >> 56) }
        try Data(bytes).write(to: junk)
        try Self.writeCard(for: junk, classes: ["covid", "healthy"])
        let random = try heatmapError(junk, dir)
        #expect(random.contains("junk.pt") && random.contains("not a loadable TorchScript file"))

        // TorchScript without features/head.
        let sub = dir.appendingPathComponent("plain")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        let plain = try Self.tinyModel(in: sub, withContract: false)
        let noContract = try heatmapError(plain, dir)
        #expect(noContract.contains("no method 'features'") && noContract.contains("export_model.py"))

        // Unknown head / class / method.
        let good2 = try Self.tinyModel(in: dir)
        let badClass = try runPleura(["heatmap", img, "--model", good2.path, "--class", "nope", "-o", dir.appendingPathComponent("x.npy").path])
        #expect(badClass.status == 1 && badClass.stderrText.contains("no class \"nope\""))
    }
}
