import Foundation
import Testing
import PleuraCore
import PleuraModel
import PleuraTestSupport
@testable import PleuraTUI

/// The screen's adapter over the real embedded model: a sector model gets the clip's scan sector,
/// found once per clip from its 16 sample frames (`ScanSector.ofClip`, the rule `pleura infer`
/// uses), not a sector of each frame alone (which cost more than the model pass, and gave other
/// predictions than `infer` for the same frame).
@Suite struct ModelExplainerTests {
    /// In-memory frames with moving speckle; counts the frames read.
    final class CountingClip: ClipReader {
        let frameCount = 40
        let framesPerSecond = 20.0
        let width = 160, height = 128
        let sha256 = String(repeating: "b", count: 64)
        var reads = 0
        func frame(_ index: Int) throws -> PixelImage {
            reads += 1
            return TestFrames.lung(width: width, height: height, seed: UInt64(index + 1)).toRGB()
        }
    }

    @Test(.enabled(if: Model.defaultModelURL != nil, "skipped: no embedded model (Models/)"))
    func sectorModelsGetTheClipsSectorFoundOnce() throws {
        let runtime = try Model.load(path: nil)
        try #require(runtime.usesSector, "the embedded model crops to the sector (card input.crop)")
        let clip = CountingClip()
        let explainer = ModelExplainer(runtime: runtime)
        #expect(!explainer.isReady(for: clip))
        let frame = try clip.frame(5)
        clip.reads = 0
        let shown = try explainer.predictions(of: frame, in: clip)
        #expect(clip.reads == ScanSector.sampleIndices(frameCount: clip.frameCount).count)
        #expect(explainer.isReady(for: clip))
        _ = try explainer.predictionsAndTopHeatmap(of: frame, in: clip, method: .gradcam)
        #expect(clip.reads == 16, "the sector is found once per clip")
        // The same input as pleura infer's: the clip's sector.
        let sector = try runtime.clipSector(frameCount: clip.frameCount) { try clip.frame($0) }
        let expected = try runtime.analyse(frame, sector: sector, targets: [], methods: []).predictions
        for head in shown {
            for (name, p) in head.ranked { #expect(expected[head.head]?[name] == p, "\(head.head)/\(name)") }
        }
    }
}
