import Foundation
import PleuraCore
import Testing
@testable import PleuraModel

@Test func camMethodNamesParse() {
    #expect(HeatmapMethod(name: "Grad-CAM++") == .gradcampp)
    #expect(HeatmapMethod(name: "layercam") == .layercam)
    #expect(HeatmapMethod(name: "pocovid")?.threshold == 0.4)
    #expect(HeatmapMethod(name: "pocovid")?.overlayWeights.image == 0.4)
    #expect(HeatmapMethod(name: "saliency") == nil)
}

/// Bilinear resize with half-pixel centres, against values worked out by hand (OpenCV gives the same).
@Test func bilinearResizeUsesHalfPixelCentres() {
    // 2x1 → 4x1: output x=0 → src -0.25 → clamp 0 → 0; x=1 → 0.25 → 2.5; x=2 → 0.75 → 7.5; x=3 → 1.25 → clamp → 10.
    let out = CAMMath.resizeBilinear([0, 10], width: 2, height: 1, outWidth: 4, outHeight: 1)
    #expect(out == [0, 2.5, 7.5, 10])
    // Same size is the identity.
    let same = CAMMath.resizeBilinear([1, 2, 3, 4], width: 2, height: 2, outWidth: 2, outHeight: 2)
    #expect(same == [1, 2, 3, 4])
}

/// Area resize as torch's adaptive_avg_pool2d: 4 → 2 averages pairs; 3 → 2 uses overlapping cells.
@Test func areaResizeMatchesAdaptiveAveragePooling() {
    let halved = Preprocess.areaResize([1, 3, 5, 7], width: 4, height: 1, outWidth: 2, outHeight: 1)
    #expect(halved == [2, 6])
    // 3 → 2: cells [0, 2) and [1, 3) (floor(k·3/2) ..< ceil((k+1)·3/2)).
    let odd = Preprocess.areaResize([0, 6, 12], width: 3, height: 1, outWidth: 2, outHeight: 1)
    #expect(odd == [3, 9])
}

/// Grad-CAM on a 2-channel 2x2 map with known gradients: α = (1, -1) → cam = A0 - A1, ReLU, min-max.
@Test func gradCAMOfAKnownCase() {
    let a: [Float] = [1, 2, 3, 4, /* channel 1 */ 0, 0, 1, 5]
    let g: [Float] = [1, 1, 1, 1, /* channel 1 */ -1, -1, -1, -1]
    let map = CAMMath.map(method: .gradcam, activations: a, gradients: g, channels: 2, height: 2, width: 2, outWidth: 2, outHeight: 2)
    // cam = [1, 2, 2, -1] → ReLU [1, 2, 2, 0] → /(2 + 1e-7) → [0.5, 1, 1, 0], then once more min-max.
    let expected: [Float] = [0.5, 1, 1, 0]
    for (m, e) in zip(map, expected) { #expect(abs(m - e) < 1e-6) }
    // LayerCAM keeps only positive gradients: channel 0 alone → A0 normalised.
    let layer = CAMMath.map(method: .layercam, activations: a, gradients: g, channels: 2, height: 2, width: 2, outWidth: 2, outHeight: 2)
    let layerExpected: [Float] = [0, 1.0 / 3, 2.0 / 3, 1]
    for (m, e) in zip(layer, layerExpected) { #expect(abs(m - e) < 1e-6) }
    // pocovid zeroes values under 0.4.
    let poco = CAMMath.map(method: .pocovid, activations: a, gradients: g, channels: 2, height: 2, width: 2, outWidth: 2, outHeight: 2)
    #expect(poco.allSatisfy { $0 == 0 || $0 >= 0.4 })
}

@Test func cardErrorsNameTheProblem() throws {
    func reason(_ json: String) -> String {
        do { _ = try ModelCard.parse(Data(json.utf8), file: "m.json"); return "" } catch let e as PleuraError { return e.reason } catch { return "\(error)" }
    }
    #expect(reason("not json").contains("not valid JSON"))
    #expect(reason("{}").contains("lacks \"input\""))
    let input = #""input": {"width": 8, "height": 8, "channels": 2, "mean": [0, 0], "std": [1, 1]}"#
    #expect(reason("{\(input), \"heads\": []}").contains("channels must be 1"))
    let ok = #""input": {"width": 8, "height": 8, "channels": 1, "mean": [0.5], "std": [0.25]}"#
    #expect(reason("{\(ok), \"heads\": []}").contains("no heads"))
    #expect(reason("{\(ok), \"heads\": [{\"name\": \"d\", \"kind\": \"ranking\", \"classes\": [\"a\"]}]}").contains("not multiclass or multilabel"))
    let card = try ModelCard.parse(Data("{\(ok), \"heads\": [{\"name\": \"f\", \"kind\": \"multilabel\", \"classes\": [\"a\", \"b\"]}]}".utf8), file: "m.json")
    #expect(card.defaultHead == "f")
    #expect(card.heads[0].isMultilabel)
}

@Test func missingShimOrModelIsAClearError() throws {
    #expect(throws: PleuraError.self) { try ModelRuntime.load(URL(fileURLWithPath: "/nonexistent/model.pt")) }
}

/// The embedded model loads in-process, its card matches its outputs, and the API the TUI uses works.
@Test(.enabled(if: Model.defaultModelURL != nil, "skipped: Models/pleura-lus-v2.pt absent"))
func embeddedModelPredictsAndExplains() throws {
    let model = try ModelRuntime.load(Model.defaultModelURL!, threads: 1)
    #expect(ModelLibraries.isTorchLoaded)
    #expect(model.card.input.channels == 1 && model.card.input.width == 128 && model.card.input.cropsToSector)
    #expect(Set(model.card.heads.map(\.name)) == ["findings", "severity", "diagnosis"])
    var px = [UInt8](repeating: 0, count: 300 * 200 * 3)
    for i in px.indices { px[i] = UInt8(truncatingIfNeeded: (i / 900) * 3 + i % 7) }
    let frame = PixelImage(width: 300, height: 200, format: .rgb24, pixels: px)
    let p = try model.predict(frame)
    let diagnosis = try #require(p["diagnosis"])
    #expect(abs(diagnosis.values.reduce(0, +) - 1) < 1e-5)          // softmax
    #expect(p["findings"]?.count == 3)                                // sigmoid, independent
    for method in HeatmapMethod.allCases {
        let map = try model.heatmap(frame, head: "severity", class: "2", method: method)
        #expect(map.values.count == 128 * 128)
        #expect(map.values.allSatisfy { $0 >= 0 && $0 <= 1 })
    }
    let top = try model.analyse(frame, targets: [.top(head: "diagnosis")], methods: [.gradcam])
    #expect(top.heatmaps[0].className == diagnosis.max { $0.value < $1.value }!.key)
    // MC-dropout: every head's classes get a spread in 0…1; the map goes back onto the frame's grid.
    let full = try model.analysis(frame, targets: [.top(head: "diagnosis")], methods: [.gradcam])
    #expect(Set(full.uncertainty.keys) == ["findings", "severity", "diagnosis"])
    #expect(full.uncertainty.values.flatMap(\.values).allSatisfy { (0...1).contains($0) })
    let grid = full.heatmaps[0].onFrameGrid()
    #expect(grid.width == 300 && grid.height == 200 && grid.values.count == 300 * 200)
    #expect(throws: PleuraError.self) { try model.heatmap(frame, head: "nope", class: "x", method: .gradcam) }
}
