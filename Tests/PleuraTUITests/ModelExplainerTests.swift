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

    /// Rate mode's adapter: the map it rates is infer's (the clip's sector), and the pane draws it
    /// where it lies on the frame (inside the sector, 0 outside), not stretched over the frame.
    @Test(.enabled(if: Model.defaultModelURL != nil, "skipped: no embedded model (Models/)"))
    func ratedMapsAreInfersAndAreDrawnInsideTheSector() throws {
        let runtime = try Model.load(path: nil)
        let clip = CountingClip()
        let model = try RuntimeRatingModel(path: "embedded")
        let frame = try clip.frame(7)
        let sector = try #require(try runtime.clipSector(frameCount: clip.frameCount) { try clip.frame($0) })
        let map = try model.heatmap(of: frame, in: clip, className: model.classes[0], method: .gradcam)
        let expected = try runtime.analyse(frame, sector: sector, targets: [CAMTarget(head: model.head, className: model.classes[0])],
                                           methods: [.gradcam]).heatmaps[0]
        #expect(map.width == expected.width && map.values == expected.values)
        let drawn = try model.onFrame(map, of: clip)
        #expect(drawn.width == clip.width && drawn.height == clip.height)
        var outside = 0, inside = 0
        for i in 0..<(clip.width * clip.height) {
            if sector.mask[i] == 0 { outside += drawn.values[i] == 0 ? 0 : 1 } else if drawn.values[i] > 0 { inside += 1 }
        }
        #expect(outside == 0, "\(outside) pixels outside the sector carry heat")
        #expect(inside > 0)
        #expect(drawn.values == expected.onFrameGrid().values)
    }
}
