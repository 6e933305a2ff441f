import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraRender

@Test func fittedRectKeepsAspectAndCentres() {
    #expect(Compositor.fittedRect(sourceWidth: 100, sourceHeight: 50, width: 40, height: 40)
            == PixelRect(x: 0, y: 10, width: 40, height: 20))
    #expect(Compositor.fittedRect(sourceWidth: 50, sourceHeight: 100, width: 40, height: 40)
            == PixelRect(x: 10, y: 0, width: 20, height: 40))
    #expect(Compositor.fittedRect(sourceWidth: 640, sourceHeight: 480, width: 320, height: 240)
            == PixelRect(x: 0, y: 0, width: 320, height: 240))
    #expect(Compositor.fittedRect(sourceWidth: 1, sourceHeight: 1000, width: 50, height: 50).width == 1)
    #expect(Compositor.fittedRect(sourceWidth: 0, sourceHeight: 10, width: 50, height: 50).width == 0)
}

@Test func letterboxUpscalesBilinearlyBetweenBlackBars() {
    // A 2×1 image into 4×4: fitted to 4×2 at y = 1; rows 0 and 3 are the black bars.
    let img = PixelImage(width: 2, height: 1, format: .gray8, pixels: [10, 200])
    let out = Compositor.letterbox(img, width: 4, height: 4)
    let row: [UInt8] = [10, 58, 153, 200]       // centres at 0.25, 0.75, 1.25, 1.75 source pixels
    #expect(out.pixels == [0, 0, 0, 0] + row + row + [0, 0, 0, 0])
}

@Test func resizeAveragesWhenShrinkingAndKeepsFlatImagesFlat() {
    let flat = PixelImage(width: 7, height: 5, format: .rgb24, pixels: [UInt8](repeating: 77, count: 105))
    #expect(Compositor.resize(flat, width: 3, height: 2).pixels.allSatisfy { $0 == 77 })
    #expect(Compositor.resize(flat, width: 11, height: 9).pixels.allSatisfy { $0 == 77 })
    let checker = PixelImage(width: 2, height: 2, format: .gray8, pixels: [0, 255, 255, 0])
    #expect(Compositor.resize(checker, width: 1, height: 1).pixels == [128])
    // Identity is a copy.
    #expect(Compositor.resize(checker, width: 2, height: 2) == checker)
}

@Test func overlayBlendsThroughTheColormapAtOpacity() {
    let frame = PixelImage(width: 2, height: 1, format: .gray8, pixels: [100, 50])
    let map = Heatmap(width: 2, height: 1, values: [0, 1])
    let out = Compositor.overlay(frame, heatmap: map, style: OverlayStyle(colormap: .jet, opacity: 0.5))
    // jet(0) = (0, 0, 128), jet(1) = (128, 0, 0); each channel round(base/2 + colour/2).
    #expect(out.pixels == [50, 50, 114, 89, 25, 25])
    let clear = Compositor.overlay(frame, heatmap: map, style: OverlayStyle(opacity: 0))
    #expect(clear.pixels == [100, 100, 100, 50, 50, 50])
    let solid = Compositor.overlay(frame, heatmap: map, style: OverlayStyle(colormap: .jet, opacity: 1))
    #expect(solid.pixels == [0, 0, 128, 128, 0, 0])
}

@Test func overlayThresholdLeavesLowValuesUncoloured() {
    let frame = PixelImage(width: 3, height: 1, format: .gray8, pixels: [100, 100, 100])
    let map = Heatmap(width: 3, height: 1, values: [0.1, 0.5, .nan])
    let out = Compositor.overlay(frame, heatmap: map, style: OverlayStyle(colormap: .turbo, opacity: 1, threshold: 0.5))
    #expect(Array(out.pixels[0..<3]) == [100, 100, 100])
    let t = Colormap.turbo.rgb(0.5)
    #expect(Array(out.pixels[3..<6]) == [t.0, t.1, t.2])
    #expect(Array(out.pixels[6..<9]) == [100, 100, 100])      // NaN never gets colour
}

@Test func overlayContourOutlinesTheRegion() {
    // A 3×3 block of ones in a 5×5 map: its 8 border pixels are the contour, its centre is not.
    var values = [Float](repeating: 0, count: 25)
    for y in 1...3 { for x in 1...3 { values[y * 5 + x] = 1 } }
    let frame = PixelImage(width: 5, height: 5, format: .gray8)
    let style = OverlayStyle(colormap: .inferno, opacity: 1, threshold: 0.5, contour: 0.5, contourColor: (1, 2, 3))
    let out = Compositor.overlay(frame, heatmap: Heatmap(width: 5, height: 5, values: values), style: style)
    func px(_ x: Int, _ y: Int) -> [UInt8] { Array(out.pixels[(3 * (y * 5 + x))..<(3 * (y * 5 + x) + 3)]) }
    let top = Colormap.inferno.rgb(1)
    for y in 0..<5 {
        for x in 0..<5 {
            if x == 2 && y == 2 { #expect(px(x, y) == [top.0, top.1, top.2]) }
            else if (1...3).contains(x) && (1...3).contains(y) { #expect(px(x, y) == [1, 2, 3]) }
            else { #expect(px(x, y) == [0, 0, 0]) }
        }
    }
}

@Test func composeKeepsLetterboxBarsFreeOfColour() {
    let frame = PixelImage(width: 4, height: 2, format: .gray8, pixels: [UInt8](repeating: 100, count: 8))
    let map = Heatmap(width: 2, height: 2, values: [1, 1, 1, 1])
    let out = Compositor.compose(frame: frame, heatmap: map, style: OverlayStyle(opacity: 1), width: 4, height: 4)
    #expect(out.format == .rgb24)
    #expect(out.pixels[0..<12].allSatisfy { $0 == 0 })          // top bar
    #expect(out.pixels[36..<48].allSatisfy { $0 == 0 })         // bottom bar
    #expect(Array(out.pixels[12..<15]) == [128, 0, 0])          // jet(1) inside
}

@Test func heatmapResizeIsBilinearAndReadsNumpyShapes() throws {
    let map = Heatmap(width: 2, height: 1, values: [0, 1])
    #expect(map.resized(width: 4, height: 1).values == [0, 0.25, 0.75, 1])
    let squeezed = try Heatmap(numpy: NumpyArray(shape: [1, 2, 3], floats: [0, 0, 0, 1, 1, 1]))
    #expect(squeezed.width == 3 && squeezed.height == 2)
    let bytes = try Heatmap(numpy: NumpyArray(shape: [1, 2], bytes: [0, 255]))
    #expect(bytes.values == [0, 1])
    #expect(throws: PleuraError.self) { try Heatmap(numpy: NumpyArray(shape: [4], floats: [0, 0, 0, 0])) }
    #expect(throws: PleuraError.self) { try Heatmap(numpy: NumpyArray(shape: [2, 2, 2], floats: [Float](repeating: 0, count: 8))) }
}

/// Each table against matplotlib 3.11.2: `t = np.round(matplotlib.colormaps[name](np.arange(256) / 255)
/// [:, :3] * 255).astype(np.uint8)`; the SHA-256 of `t.tobytes()` (the whole table) and nine entries
/// (i = 0, 32, …, 224, 255) were computed with it once and are written here.
@Test(arguments: [
    (Colormap.jet, "fc594b040cc9ce19b95dda51ba28d8ced43d0057a13faa70dce0e3b74286f406",
     [(0, 0, 128), (0, 0, 255), (0, 128, 255), (22, 255, 225), (125, 255, 122), (228, 255, 19), (255, 148, 0), (255, 30, 0), (128, 0, 0)]),
    (Colormap.turbo, "c4ae9ddb8a7f13561562fe15fd276fb55ab04e194786c39edfb2ef2cc0929b2b",
     [(48, 18, 59), (70, 107, 227), (40, 188, 235), (50, 242, 152), (164, 252, 60), (238, 207, 58), (251, 126, 33), (208, 47, 5), (122, 4, 3)]),
    (Colormap.inferno, "e24e8bd38b972989f64c42856b2b274df5ada3a62bc01bf8e83500a2ea938ad4",
     [(0, 0, 4), (33, 12, 74), (87, 16, 110), (138, 34, 106), (188, 55, 84), (228, 90, 49), (249, 142, 9), (249, 203, 53), (252, 255, 164)]),
])
func colormapEqualsMatplotlib(_ map: Colormap, _ sha: String, _ samples: [(Int, Int, Int)]) {
    #expect(map.table.count == 768)
    #expect(SHA256.hex(of: map.table) == sha, "\(map) differs from matplotlib's table")
    for (k, i) in [0, 32, 64, 96, 128, 160, 192, 224, 255].enumerated() {
        let c = map.rgb(Float(i) / 255)
        #expect((Int(c.0), Int(c.1), Int(c.2)) == samples[k], "\(map) at \(i)")
    }
}

@Test func colormapLookupClampsAndIsNamed() {
    // inferno is perceptually ordered: luma never falls.
    var last = -1
    for i in 0..<256 {
        let c = Colormap.inferno.rgb(Float(i) / 255)
        let luma = 299 * Int(c.0) + 587 * Int(c.1) + 114 * Int(c.2)
        #expect(luma >= last)
        last = luma
    }
    #expect(Colormap(name: "Turbo") == .turbo && Colormap(name: "viridis") == nil)
    #expect(Colormap.index(.nan) == 0 && Colormap.index(-3) == 0 && Colormap.index(7) == 255)
    #expect(Colormap.jet.rgb(-1) == Colormap.jet.rgb(0) && Colormap.jet.rgb(2) == Colormap.jet.rgb(1))
}
