import Foundation
import PleuraCore
import PleuraTestSupport
import Testing

/// The sector model (Models/pleura-lus-v2): Pleura's input equals Scripts/pleura_sector.py's on
/// real clips, Grad-CAM equals the torch.autograd reference, `heatmap --frame-size` lies on the
/// frame's grid with 0 outside the sector, and `infer` stores the MC-dropout uncertainty.
@Suite(.serialized) struct SectorModelCLITests {
    static let v2 = TestEnv.packageRoot.appendingPathComponent("Models/pleura-lus-v2.pt")
    static let hasV2 = FileManager.default.fileExists(atPath: v2.path)
    static let sectorScript = TestEnv.packageRoot.appendingPathComponent("Scripts/pleura_sector.py").path
    /// Clips of different sources, scanners, sizes and containers, with a frame index each.
    static let realClips = [("pocus_videos/convex/Cov_combatting_Image2.mp4", 19), ("pocus_videos/convex/Pneu_northumbria_0409_set1_vid1.avi", 5),
                            ("pocus_videos/linear/Cov-Atlas-pleural.mp4", 3), ("pocus_videos/convex/Cov-Atlas+(44).gif", 10),
                            ("pocus_images/convex/Cov_Oliviera_2020_Fig15A.jpg", 0)]

    @Test(.enabled(if: ModelCLITests.hasTorch && hasV2 && TestEnv.pocusDirectory != nil,
                   "skipped: needs /usr/bin/python3 with torch, Models/pleura-lus-v2.pt and the POCUS data"))
    func inputEqualsPythonAndFrameSizeMapStaysInTheSector() throws {
        let root = try #require(TestEnv.pocusDirectory)
        let dir = try TestEnv.makeTempDirectory("pleura-sector-prep")
        defer { try? FileManager.default.removeItem(at: dir) }
        var worst = 0.0
        for (n, (name, index)) in Self.realClips.enumerated() {
            let clip = root.appendingPathComponent(name).path
            let mine = dir.appendingPathComponent("in\(n).npy").path, ref = dir.appendingPathComponent("ref\(n).npy").path
            let mask = dir.appendingPathComponent("mask\(n).npy").path, map = dir.appendingPathComponent("map\(n).npy").path
            let r = try runPleura(["heatmap", clip, "--index", String(index), "--model", Self.v2.path, "--frame-size",
                                   "-o", map, "--dump-input", mine])
            try #require(r.status == 0, "pleura heatmap failed: \(r.stderrText)")
            let py = try runProgram(ModelCLITests.python, [Self.sectorScript, clip, "--dump-input", String(index), ref, "--dump-mask", mask])
            try #require(py.status == 0, "pleura_sector.py failed: \(py.stderrText)")
            // NumpyArray reads up to 3 dimensions; numpy compares the two 1 x 1 x 128 x 128 tensors.
            let cmp = try runProgram(ModelCLITests.python, ["-c", """
                import numpy as np; a = np.load("\(mine)"); b = np.load("\(ref)")
                print(float(np.abs(a.astype(np.float64) - b).max()) if a.shape == b.shape == (1, 1, 128, 128) else "shape", a.shape, b.shape)
                """])
            try #require(cmp.status == 0, "\(cmp.stderrText)")
            let diff = try #require(Double(cmp.stdoutText.split(separator: " ").first ?? ""), "shapes: \(cmp.stdoutText)")
            #expect(diff <= 1e-6, "\(name) frame \(index): Swift and Python inputs differ by \(diff)")
            worst = max(worst, diff)
            // The frame-size map: the frame's grid, 0 outside the sector Python found, heat inside it.
            let m = try NumpyArray.read(path: map), sector = try NumpyArray.read(path: mask)
            #expect(m.shape == sector.shape, "map \(m.shape) vs frame \(sector.shape)")
            let values = m.floatValues, inside = sector.floatValues
            var outsideHeat: Float = 0, insideMax: Float = 0
            for (v, s) in zip(values, inside) { if s == 0 { outsideHeat = max(outsideHeat, v) } else { insideMax = max(insideMax, v) } }
            #expect(outsideHeat == 0 && insideMax > 0.5, "\(name): heat outside the sector \(outsideHeat), inside max \(insideMax)")
        }
        print("sector preprocessing, Swift vs Python on \(Self.realClips.count) real clips: worst max-abs-diff \(worst)")
    }

    @Test(.enabled(if: ModelCLITests.hasTorch && hasV2, "skipped: needs /usr/bin/python3 with torch and Models/pleura-lus-v2.pt"))
    func sectorModelHeatmapsMatchPythonReference() throws {
        try ModelCLITests().checkAgainstReference(model: Self.v2.path, heads: try ModelCLITests.cardHeads(Self.v2),
                                                  methods: ["gradcam", "gradcam++"])
    }

    @Test(.enabled(if: ModelCLITests.hasTorch && hasV2, "skipped: needs /usr/bin/python3 with torch and Models/pleura-lus-v2.pt"))
    func inferStoresUncertaintyAndExportsIt() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-infer-uncertainty")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (clip, _) = try InferCLITests.clip(in: dir)
        let store = dir.appendingPathComponent("s.db").path
        let r = try runPleura(["infer", "--store", store, "--model", Self.v2.path, "--every", "20", "--quiet", clip])
        try #require(r.status == 0, "\(r.stderrText)")
        let csv = dir.appendingPathComponent("p.csv").path
        let e = try runPleura(["export", "--store", store, "--kind", "predictions", "--format", "csv", "-o", csv])
        try #require(e.status == 0, "\(e.stderrText)")
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "media,frame,model,head,label,probability,uncertainty")
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.count >= 10)   // 10 classes per frame
        let u = rows.compactMap { $0.last.flatMap { Double($0) } }
        #expect(u.count == rows.count, "every row of the v2 model has an uncertainty")
        #expect(u.allSatisfy { (0...1).contains($0) } && u.contains { $0 > 0 }, "uncertainties \(u.prefix(10))")
    }
}
