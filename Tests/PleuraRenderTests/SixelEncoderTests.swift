import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraRender

/// A sixel sequence is complete and contains nothing a terminal could take as another command:
/// DCS … q, then only sixel data characters (and no ESC) until the final ST.
func expectValidSixel(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(bytes.starts(with: [0x1B, 0x50]), "starts with DCS", sourceLocation: sourceLocation)
    #expect(bytes.suffix(2) == [0x1B, 0x5C], "ends with ST", sourceLocation: sourceLocation)
    guard let q = bytes.firstIndex(of: UInt8(ascii: "q")) else {
        Issue.record("no 'q' introducer", sourceLocation: sourceLocation); return
    }
    let body = bytes[(q + 1)..<(bytes.count - 2)]
    let stray = body.first { !(0x20...0x7E).contains($0) && $0 != 0x0A && $0 != 0x0D }
    #expect(stray == nil, "body byte \(stray.map(String.init) ?? "") outside sixel data", sourceLocation: sourceLocation)
}

@Test func sixelRoundTripOfGreyLungFramesReachesTarget() throws {
    for seed in 1...3 as ClosedRange<UInt64> {
        let frame = TestFrames.lung(width: 320, height: 320, seed: seed)
        let encoder = SixelEncoder()
        let bytes = try encoder.encode(frame)
        expectValidSixel(bytes)
        let shown = try SixelDecoder.decode(bytes)
        #expect(shown.width == 320 && shown.height == 320)
        let psnr = ImageMetrics.psnr(shown, frame)
        #expect(psnr >= 32, "seed \(seed): \(psnr) dB")
        // The encoder's own estimate is what the decoder shows.
        #expect(abs((encoder.lastReport?.psnr ?? 0) - psnr) < 0.01)
        #expect(encoder.palette!.colours.isEmpty, "a grey frame needs no colour entries")
    }
}

@Test func sixelRoundTripWithHeatmapOverlayReachesTarget() throws {
    let frame = TestFrames.lung(width: 320, height: 320, seed: 7)
    for cmap in Colormap.allCases {
        let style = OverlayStyle(colormap: cmap, opacity: 0.45, threshold: 0.2, contour: 0.6)
        let pane = Compositor.overlay(frame, heatmap: Heatmap(width: 320, height: 320,
                                                              values: TestFrames.blob(width: 320, height: 320)), style: style)
        let bytes = try SixelEncoder().encode(pane)
        expectValidSixel(bytes)
        let psnr = ImageMetrics.psnr(try SixelDecoder.decode(bytes), pane)
        #expect(psnr >= 28, "\(cmap): \(psnr) dB")
    }
}

@Test func sixelReusesThePaletteAcrossAClipAndRefitsWhenItNoLongerFits() throws {
    let encoder = SixelEncoder(options: .playing(targetPSNR: 34))
    _ = try encoder.encode(TestFrames.lung(width: 200, height: 160, seed: 1))
    #expect(encoder.lastReport?.refitted == true)
    let first = encoder.palette
    for seed in 2...4 as ClosedRange<UInt64> {       // the same scene, new speckle: same palette
        _ = try encoder.encode(TestFrames.lung(width: 200, height: 160, seed: seed))
        #expect(encoder.lastReport?.refitted == false)
        #expect(encoder.palette == first)
        #expect((encoder.lastReport?.psnr ?? 0) >= 31)
    }
    // An overlay appears: the grey palette cannot show it, so the encoder refits.
    let frame = TestFrames.lung(width: 200, height: 160, seed: 5)
    let pane = Compositor.overlay(frame, heatmap: Heatmap(width: 200, height: 160, values: TestFrames.blob(width: 200, height: 160)),
                                  style: OverlayStyle(opacity: 0.5))
    _ = try encoder.encode(pane)
    #expect(encoder.lastReport?.refitted == true)
    #expect(!(encoder.palette?.colours.isEmpty ?? true))
    #expect((encoder.lastReport?.psnr ?? 0) >= 28)
    // The next overlay frame: no palette reaches the target with these colours, and the fitted
    // one shows it as well as a new fit would, so it is kept (no median cut per frame).
    let fitted = try #require(encoder.lastReport?.psnr)
    _ = try encoder.encode(Compositor.overlay(TestFrames.lung(width: 200, height: 160, seed: 6),
                                              heatmap: Heatmap(width: 200, height: 160, values: TestFrames.blob(width: 200, height: 160)),
                                              style: OverlayStyle(opacity: 0.5)))
    #expect(encoder.lastReport?.refitted == false)
    #expect((encoder.lastReport?.psnr ?? 0) >= fitted - 0.6)
    encoder.reset()
    #expect(encoder.palette == nil)
}

@Test func sixelNeverExceedsTheByteLimit() throws {
    // Colour noise is the worst case for sixel; force a small limit and check it holds.
    var rng = SplitMix64(seed: 3)
    let noise = PixelImage(width: 400, height: 300, format: .rgb24,
                           pixels: (0..<(400 * 300 * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    let unlimited = try SixelEncoder().encode(noise)
    #expect(unlimited.count <= 1_000_000)
    let encoder = SixelEncoder(options: .init(maxBytes: 60_000))
    let bytes = try encoder.encode(noise)
    #expect(unlimited.count > 60_000)
    #expect(bytes.count <= 60_000)
    expectValidSixel(bytes)
    let shown = try SixelDecoder.decode(bytes)
    #expect(shown.width == encoder.lastReport?.encodedWidth && shown.height == encoder.lastReport?.encodedHeight)
}

@Test func sixelHonoursFewColourRegisters() throws {
    let frame = Compositor.overlay(TestFrames.lung(width: 160, height: 160, seed: 2),
                                   heatmap: Heatmap(width: 160, height: 160, values: TestFrames.blob(width: 160, height: 160)),
                                   style: OverlayStyle())
    let encoder = SixelEncoder(options: .init(maxColors: 16))
    let bytes = try encoder.encode(frame)
    #expect(encoder.palette!.count <= 16)
    expectValidSixel(bytes)
    // Registers are numbered 0–15 only.
    let text = String(decoding: bytes, as: UTF8.self)
    let registers = text.split(separator: "#").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
    #expect(!registers.isEmpty && registers.allSatisfy { $0 < 16 })
}

@Test func sixelOfTinyAndOddImages() throws {
    for (w, h) in [(1, 1), (1, 7), (13, 1), (5, 6)] {
        let img = PixelImage(width: w, height: h, format: .gray8, pixels: (0..<(w * h)).map { UInt8($0 * 37 % 256) })
        let bytes = try SixelEncoder().encode(img)
        expectValidSixel(bytes)
        let shown = try SixelDecoder.decode(bytes)
        #expect(shown.width == w && shown.height == h)
    }
    #expect(throws: PleuraError.self) { try SixelEncoder().encode(PixelImage(width: 0, height: 0, format: .gray8)) }
}

@Test(.enabled(if: TestEnv.which("sixel2png") != nil, "skipped: sixel2png (libsixel-bin) is absent"))
func sixelIsAcceptedBySixel2png() throws {
    let dir = try TestEnv.makeTempDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("f.six"), output = dir.appendingPathComponent("f.png")
    try Data(SixelEncoder().encode(TestFrames.lung(width: 240, height: 180, seed: 4))).write(to: input)
    let r = try runProgram(TestEnv.which("sixel2png")!, ["-i", input.path, "-o", output.path])
    #expect(r.status == 0, "\(r.stderrText)")
    let png = try Data(contentsOf: output)
    #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
    // PNG IHDR: width and height, big endian, at bytes 16–23.
    let w = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, h = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
    #expect(w == 240 && h == 180)
}

/// Real POCUS frames (when present): scaled to 480×480 with ffmpeg, encoded, decoded back.
@Test(.enabled(if: TestEnv.pocusDirectory != nil && TestEnv.which("ffmpeg") != nil, "\(TestEnv.pocusMissing) (or ffmpeg is absent)"))
func sixelRoundTripOfRealLUSFrames() throws {
    let root = TestEnv.pocusDirectory!
    let clips = ["pocus_videos/convex/Cov_combatting_Image1.mp4", "pocus_videos/convex/Pneu_Avi_Video_003.mp4",
                 "pocus_videos/convex/Pneu_liftl_pneu_case3_clip3.mp4"]
    for clip in clips where FileManager.default.fileExists(atPath: root.appendingPathComponent(clip).path) {
        let r = try runProgram(TestEnv.which("ffmpeg")!, [
            "-nostdin", "-v", "error", "-i", root.appendingPathComponent(clip).path,
            "-vf", "select=eq(n\\,10),scale=480:480:force_original_aspect_ratio=decrease:flags=area,pad=480:480:(ow-iw)/2:(oh-ih)/2",
            "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        #expect(r.status == 0 && r.stdout.count == 480 * 480 * 3, "\(clip): \(r.stderrText)")
        guard r.stdout.count == 480 * 480 * 3 else { continue }
        let frame = PixelImage(width: 480, height: 480, format: .rgb24, pixels: [UInt8](r.stdout))
        let bytes = try SixelEncoder().encode(frame)
        let psnr = ImageMetrics.psnr(try SixelDecoder.decode(bytes), frame)
        #expect(psnr >= 32, "\(clip): \(psnr) dB")
    }
}

/// The overpainting writer shows exactly the indexed image: every pixel's last pass is its colour.
@Test func sixelWriterShowsExactlyTheIndexedImage() throws {
    var rng = SplitMix64(seed: 11)
    let palette: [RGBColour] = (0..<40).map { (i: Int) -> RGBColour in
        let r = UInt8(i * 6), g = UInt8(255 - i * 6), b = UInt8(i * 3)
        return SixelPalette.representable(RGBColour(r, g, b))
    }
    for (w, h) in [(1, 1), (7, 5), (64, 13), (200, 37)] {
        // Speckle-like: long runs of one colour broken by random others.
        var indices = [UInt8](repeating: 0, count: w * h)
        for i in indices.indices { indices[i] = rng.next() % 4 == 0 ? UInt8(rng.next() % 40) : UInt8(i / 17 % 3) }
        let bytes = SixelWriter.write(indices: indices, width: w, height: h, palette: palette)
        expectValidSixel(bytes)
        #expect(bytes.last(where: { $0 != 0x1B && $0 != 0x5C }) != UInt8(ascii: "-"), "no graphics new line at the end: nothing scrolls")
        let shown = try SixelDecoder.decode(bytes).toRGB()
        #expect(shown.width == w && shown.height == h)
        var wrong = 0
        for i in 0..<(w * h) {
            let c = palette[Int(indices[i])]
            if shown.pixels[3 * i] != c.r || shown.pixels[3 * i + 1] != c.g || shown.pixels[3 * i + 2] != c.b { wrong += 1 }
        }
        #expect(wrong == 0, "\(w)×\(h): \(wrong) pixels differ")
    }
}

/// A still frame is ≥ 40 dB and keeps speckle's brightness levels close (no contour bands); a
/// playing frame is cheaper and still ≥ 32 dB.
@Test func stillFramesAreFaithfulAndPlayingFramesCheaper() throws {
    let frame = TestFrames.lung(width: 320, height: 320, seed: 5)
    let still = try SixelEncoder(options: .still()).encode(frame)
    let shownStill = try SixelDecoder.decode(still)
    #expect(ImageMetrics.psnr(shownStill, frame) >= 40)
    let banding = ImageMetrics.banding(shown: shownStill, source: frame)
    #expect(banding.largestStep <= 12, "largest step \(banding.largestStep)")
    let playing = try SixelEncoder(options: .playing(targetPSNR: PlaybackQuality.ladder.last!)).encode(frame)
    #expect(ImageMetrics.psnr(try SixelDecoder.decode(playing), frame) >= 32)
    #expect(playing.count < still.count)
}

/// The banding metric sees a 9-level ramp as banded and an exact copy as not.
@Test func bandingMetricSeesPosterisation() {
    let frame = TestFrames.lung(width: 200, height: 200, seed: 2).toGray()
    let exact = ImageMetrics.banding(shown: frame, source: frame)
    #expect(exact.largestStep <= 2)
    let posterised = PixelImage(width: 200, height: 200, format: .gray8, pixels: frame.pixels.map { UInt8(min(255, Int($0) / 28 * 28 + 14)) })
    let bands = ImageMetrics.banding(shown: posterised, source: frame)
    #expect(bands.largestStep >= 25 && bands.levels <= 10, "\(bands)")
}
