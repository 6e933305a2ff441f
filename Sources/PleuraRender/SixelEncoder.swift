import CSixel
import Foundation
import PleuraCore

/// Encodes frames as sixel escape sequences through libsixel, tuned for lung ultrasound.
///
/// One encoder per clip: the first frame fixes a palette (a brightness ramp fitted to the frame
/// for the quality target, grey or in the scanner's tint, plus colours for coloured pixels such as
/// a heatmap overlay; see ``SixelPalette``), and later frames reuse it, which keeps the picture stable between frames
/// and saves the palette search. A frame that the palette no longer represents well (its PSNR
/// falls `refitMargin` dB below the target, e.g. an overlay was switched on) gets a new palette,
/// unless a fresh palette could not reach the target either (an overlay's colours: 36–38 dB) and
/// the old one stays within `refitMargin` of what that fit reached (a new fit would gain nothing
/// and costs a median cut per frame).
/// Pixels are mapped to the palette without dithering (dithering adds noise, and noise costs sixel
/// bytes); ``SixelWriter`` then writes the indexed image, painting over earlier colours to save
/// bytes. Two qualities: ``Options-swift.struct/still(maxColors:)`` (≥ 40 dB, what a paused frame
/// shows) and ``Options-swift.struct/playing(targetPSNR:maxColors:)`` (cheaper, for playback).
///
/// Every result is one complete sixel sequence (`ESC P … q … ESC \`) of at most
/// ``Options-swift.struct/maxBytes`` bytes: if a frame would be larger, it is re-encoded with
/// fewer colours, then at a smaller size, until it fits.
///
/// ```swift
/// let encoder = SixelEncoder()                       // new clip
/// for index in 0..<frames {
///     let pane = Compositor.letterbox(try reader.frame(index), width: 480, height: 480)
///     let bytes = try encoder.encode(pane)           // write to the tty at the cursor
/// }
/// ```
/// Not thread-safe: use one encoder from one thread (one per clip or pane).
public final class SixelEncoder {
    public struct Options: Equatable, Sendable {
        /// Colour registers to use (the terminal's count, from ``TerminalCapabilities``); 2–256.
        public var maxColors: Int
        /// Quality the grey ramp is fitted for, in dB of PSNR against the input image.
        public var targetPSNR: Double
        /// The largest sequence ever returned (tmux ≥ 3.4 drops images beyond its 1 MiB buffer).
        public var maxBytes: Int
        /// A pixel within this much (per channel) of the clip's tint at its brightness belongs to
        /// the brightness ramp; anything more colourful gets a colour entry.
        public var rampTolerance: Int
        /// Refit the palette when a frame's PSNR falls this many dB below ``targetPSNR``.
        public var refitMargin: Double
        /// The largest brightness step between neighbouring ramp levels over the clip's 1st–99th
        /// percentile of brightness (nil: no limit). PSNR alone lets a Lloyd–Max ramp leave wide
        /// gaps where pixels are few (bright pleura, B-lines), and wide gaps show as contour
        /// bands; this caps them (see ``ImageMetrics/banding(shown:source:)``).
        public var maxStep: Int?

        public init(maxColors: Int = 256, targetPSNR: Double = 40.5, maxBytes: Int = 1_000_000,
                    rampTolerance: Int = 16, refitMargin: Double = 0.5, maxStep: Int? = 8) {
            self.maxColors = max(2, min(256, maxColors))
            self.targetPSNR = targetPSNR
            self.maxBytes = max(4096, maxBytes)
            self.rampTolerance = rampTolerance
            self.refitMargin = refitMargin
            self.maxStep = maxStep
        }

        /// A frame the clinician studies (paused, stepped, `pleura render`): ≥ 40 dB, refitted as
        /// soon as a frame falls below 40 dB. Enough ramp levels that speckle keeps its texture.
        public static func still(maxColors: Int = 256) -> Options {
            Options(maxColors: maxColors, targetPSNR: 40.5, refitMargin: 0.5, maxStep: 8)
        }

        /// A frame of running playback at a given quality (dB), ≥ 32 dB in practice; the palette is
        /// kept while frames stay within 1.5 dB of the target (a stable picture, no refit cost).
        public static func playing(targetPSNR: Double, maxColors: Int = 256) -> Options {
            Options(maxColors: maxColors, targetPSNR: targetPSNR, refitMargin: 1.5, maxStep: 24)
        }
    }

    /// What the last ``encode(_:)`` did, for `pleura bench` and diagnostics.
    public struct FrameReport: Equatable, Sendable {
        /// PSNR (dB) of the palette-mapped image against the input (∞ when identical).
        public var psnr: Double
        /// Whether this frame fitted a new palette (first frame, or the old one no longer fitted).
        public var refitted: Bool
        public var paletteSize: Int
        /// Size that was encoded (smaller than the input only when the byte limit forced it).
        public var encodedWidth: Int
        public var encodedHeight: Int
        public var bytes: Int
    }

    public let options: Options
    /// The palette in use for this clip; nil before the first frame and after ``reset()``.
    public private(set) var palette: SixelPalette?
    public private(set) var lastReport: FrameReport?

    /// Brightness → ramp entry, and brightness → tint (flattened RGB), copied from the palette.
    private var rampIndex = [UInt8](repeating: 0, count: 256)
    private var tint = [UInt8](repeating: 0, count: 768)
    /// Nearest palette entry for each 15-bit RGB cell (−1: not looked up yet).
    private var colourCache = [Int16](repeating: -1, count: 32768)
    private var paletteRGB: [UInt8] = []
    /// PSNR the palette in use reached on the frame it was fitted to.
    private var fittedPSNR = Double.infinity

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Forgets the palette: the next frame starts a new clip.
    public func reset() {
        palette = nil
        lastReport = nil
        fittedPSNR = .infinity
    }

    /// The frame as one complete sixel sequence.
    public func encode(_ image: PixelImage) throws -> [UInt8] {
        guard image.width > 0, image.height > 0 else {
            throw PleuraError(file: nil, "cannot encode an empty image as sixel")
        }
        var refitted = false
        if palette == nil {
            install(Self.fitPalette(for: image, options: options, maxColors: options.maxColors))
            refitted = true
        }
        var (indices, psnr) = map(image)
        if !refitted, psnr < min(options.targetPSNR, fittedPSNR) - options.refitMargin {
            install(Self.fitPalette(for: image, options: options, maxColors: options.maxColors))
            refitted = true
            (indices, psnr) = map(image)
        }
        if refitted { fittedPSNR = psnr }
        var out = try Self.encodeIndexed(indices, width: image.width, height: image.height, palette: palette!)
        var encodedWidth = image.width, encodedHeight = image.height
        // Over the byte limit: fewer colours first (each halving costs ~3 dB), then a smaller size.
        if out.count > options.maxBytes {
            var colours = palette!.count
            var current = image
            var attempts = 0
            while out.count > options.maxBytes && attempts < 12 {
                attempts += 1
                if colours > 8 {
                    colours = max(8, colours / 2)
                } else {
                    let w = max(1, current.width * 3 / 4), h = max(1, current.height * 3 / 4)
                    current = Compositor.resize(current, width: w, height: h)
                }
                let reduced = Self.fitPalette(for: current, options: options, maxColors: colours)
                let saved = (palette, rampIndex, tint, colourCache, paletteRGB)
                install(reduced)
                let (smaller, p) = map(current)
                out = try Self.encodeIndexed(smaller, width: current.width, height: current.height, palette: reduced)
                psnr = p
                (palette, rampIndex, tint, colourCache, paletteRGB) = saved   // keep the clip's palette
            }
            encodedWidth = current.width; encodedHeight = current.height
            guard out.count <= options.maxBytes else {
                throw PleuraError(file: nil, "cannot fit the image in \(options.maxBytes) bytes of sixel")
            }
        }
        lastReport = FrameReport(psnr: psnr, refitted: refitted, paletteSize: palette!.count,
                                 encodedWidth: encodedWidth, encodedHeight: encodedHeight, bytes: out.count)
        return out
    }

    // MARK: Palette

    private func install(_ newPalette: SixelPalette) {
        palette = newPalette
        paletteRGB = newPalette.bytes
        rampIndex = newPalette.rampIndex
        tint = newPalette.tint.flatMap { [$0.r, $0.g, $0.b] }
        colourCache = [Int16](repeating: -1, count: 32768)
    }

    private func nearest(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int {
        var best = 0, bestD = Int.max
        for i in 0..<(paletteRGB.count / 3) {
            let dr = Int(paletteRGB[3 * i]) - Int(r), dg = Int(paletteRGB[3 * i + 1]) - Int(g)
            let db = Int(paletteRGB[3 * i + 2]) - Int(b)
            let d = dr * dr + dg * dg + db * db
            if d < bestD { bestD = d; best = i }
        }
        return best
    }

    /// Palette indices for every pixel, and the PSNR of the mapped image.
    private func map(_ image: PixelImage) -> ([UInt8], Double) {
        let n = image.width * image.height
        var indices = [UInt8](repeating: 0, count: n)
        var squaredError = 0
        let tolerance = options.rampTolerance
        image.pixels.withUnsafeBufferPointer { px in
            indices.withUnsafeMutableBufferPointer { out in
                paletteRGB.withUnsafeBufferPointer { pal in
                    rampIndex.withUnsafeBufferPointer { ramp in
                        tint.withUnsafeBufferPointer { tint in
                            if image.format == .gray8 {
                                for i in 0..<n {
                                    let v = Int(px[i])
                                    let k = Int(ramp[v])
                                    out[i] = UInt8(k)
                                    let dr = Int(pal[3 * k]) - v, dg = Int(pal[3 * k + 1]) - v, db = Int(pal[3 * k + 2]) - v
                                    squaredError += dr * dr + dg * dg + db * db
                                }
                                return
                            }
                            for i in 0..<n {
                                let r = Int(px[3 * i]), g = Int(px[3 * i + 1]), b = Int(px[3 * i + 2])
                                let m = (r + g + b + 1) / 3
                                let k: Int
                                if abs(r - Int(tint[3 * m])) <= tolerance && abs(g - Int(tint[3 * m + 1])) <= tolerance
                                    && abs(b - Int(tint[3 * m + 2])) <= tolerance {
                                    k = Int(ramp[m])
                                } else {
                                    let key = (r >> 3) << 10 | (g >> 3) << 5 | (b >> 3)
                                    var cached = Int(colourCache[key])
                                    if cached < 0 {
                                        // The cell's centre stands for the whole 8×8×8 cell.
                                        cached = nearest(UInt8(r & 0xF8 | 4), UInt8(g & 0xF8 | 4), UInt8(b & 0xF8 | 4))
                                        colourCache[key] = Int16(cached)
                                    }
                                    k = cached
                                }
                                out[i] = UInt8(k)
                                let dr = Int(pal[3 * k]) - r, dg = Int(pal[3 * k + 1]) - g, db = Int(pal[3 * k + 2]) - b
                                squaredError += dr * dr + dg * dg + db * db
                            }
                        }
                    }
                }
            }
        }
        let mse = Double(squaredError) / Double(3 * n)
        return (indices, mse == 0 ? .infinity : 10 * log10(255 * 255 / mse))
    }

    /// Fits a palette of at most `maxColors` entries to one frame.
    static func fitPalette(for image: PixelImage, options: Options, maxColors: Int) -> SixelPalette {
        let n = image.width * image.height
        let rgb = image.toRGB().pixels
        // 1. The tint curve: mean colour per brightness of the near-grey pixels, smoothed over ±4
        //    levels (grey for brightnesses with no such pixels).
        var candidate = [(Double, Double, Double, Double)](repeating: (0, 0, 0, 0), count: 256)
        for i in 0..<n {
            let r = Int(rgb[3 * i]), g = Int(rgb[3 * i + 1]), b = Int(rgb[3 * i + 2])
            guard max(r, g, b) - min(r, g, b) <= 3 * options.rampTolerance else { continue }
            let m = (r + g + b + 1) / 3
            candidate[m].0 += 1; candidate[m].1 += Double(r); candidate[m].2 += Double(g); candidate[m].3 += Double(b)
        }
        var tint: [RGBColour] = []
        for m in 0..<256 {
            var c = (0.0, 0.0, 0.0, 0.0)
            for k in max(0, m - 4)...min(255, m + 4) {
                c.0 += candidate[k].0; c.1 += candidate[k].1; c.2 += candidate[k].2; c.3 += candidate[k].3
            }
            if c.0 == 0 {
                tint.append(RGBColour(UInt8(m), UInt8(m), UInt8(m)))
            } else {
                // Shift the window's mean colour to this brightness so the curve stays on it.
                let shift = Double(m) - (c.1 + c.2 + c.3) / (3 * c.0)
                func ch(_ v: Double) -> UInt8 { UInt8(max(0, min(255, (v / c.0 + shift).rounded()))) }
                tint.append(RGBColour(ch(c.1), ch(c.2), ch(c.3)))
            }
        }
        // 2. Ramp pixels (near the tint curve) feed the ramp statistics; the rest are colours.
        var bins = [(Double, Double, Double, Double, Double)](repeating: (0, 0, 0, 0, 0), count: 256)
        var colourPixels: [UInt8] = []
        let tol = options.rampTolerance
        for i in 0..<n {
            let r = Int(rgb[3 * i]), g = Int(rgb[3 * i + 1]), b = Int(rgb[3 * i + 2])
            let m = (r + g + b + 1) / 3
            let t = tint[m]
            if abs(r - Int(t.r)) <= tol && abs(g - Int(t.g)) <= tol && abs(b - Int(t.b)) <= tol {
                bins[m].0 += 1; bins[m].1 += Double(r); bins[m].2 += Double(g); bins[m].3 += Double(b)
                bins[m].4 += Double(r * r + g * g + b * b)
            } else {
                colourPixels += [UInt8(r), UInt8(g), UInt8(b)]
            }
        }
        let stats = RampStatistics(bins: bins)
        let colourCount = colourPixels.count / 3
        // The ramp comes first (it carries the picture); colours get the rest: a few for
        // scattered coloured marks, everything left for an overlay.
        let colourWanted = colourCount == 0 ? 0 : max(8, colourCount / 256)
        let maxLevels = max(2, min(128, maxColors - min(colourWanted, maxColors / 2)))
        let targetMSE = 255.0 * 255.0 / pow(10, options.targetPSNR / 10)
        var levels = stats.fitLevels(errorBudget: targetMSE * Double(3 * n), maxLevels: maxLevels)
        if let step = options.maxStep { levels = stats.closingGaps(levels, maxStep: step, maxLevels: maxLevels) }
        let colourEntries = min(colourWanted, maxColors - levels.count)
        if stats.total == 0 { levels = [0] }
        let rampColours = stats.evaluate(levels).colours
        var rampIndex = [UInt8](repeating: 0, count: 256)
        for (i, (lo, hi)) in RampStatistics.cells(levels).enumerated() {
            for m in lo...hi { rampIndex[m] = UInt8(i) }
        }
        var colours: [RGBColour] = []
        if colourEntries > 0 {
            colours = medianCut(colourPixels, count: colourCount, colours: colourEntries)
        }
        return SixelPalette(ramp: rampColours, rampIndex: rampIndex, tint: tint, colours: colours)
    }

    /// libsixel's median cut over the coloured pixels only.
    private static func medianCut(_ rgb: [UInt8], count: Int, colours: Int) -> [RGBColour] {
        guard colours > 0, count > 0 else { return [] }
        var dither: OpaquePointer?
        guard pleura_sixel_succeeded(sixel_dither_new(&dither, Int32(colours), nil)) != 0, let dither else { return [] }
        defer { sixel_dither_unref(dither) }
        var pixels = rgb
        let status = pixels.withUnsafeMutableBufferPointer { buf in
            sixel_dither_initialize(dither, buf.baseAddress, Int32(count), 1, SIXEL_PIXELFORMAT_RGB888,
                                    SIXEL_LARGE_NORM, SIXEL_REP_AVERAGE_PIXELS, SIXEL_QUALITY_HIGH)
        }
        guard pleura_sixel_succeeded(status) != 0, let pal = sixel_dither_get_palette(dither) else { return [] }
        let got = Int(sixel_dither_get_num_of_palette_colors(dither))
        return (0..<min(got, colours)).map { RGBColour(pal[3 * $0], pal[3 * $0 + 1], pal[3 * $0 + 2]) }
    }

    /// Writes indexed pixels with a palette as one sixel sequence (``SixelWriter``).
    static func encodeIndexed(_ indices: [UInt8], width: Int, height: Int, palette: SixelPalette) throws -> [UInt8] {
        SixelWriter.write(indices: indices, width: width, height: height, palette: (0..<palette.count).map(palette.colour))
    }
}

