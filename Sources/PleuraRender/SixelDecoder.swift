import CSixel
import Foundation
import PleuraCore

/// Decodes a sixel sequence back to pixels with libsixel's decoder: the round-trip check for
/// tests and `pleura bench` (what a terminal would show, measured against what was meant).
///
/// ```swift
/// let shown = try SixelDecoder.decode(bytes)     // RGB
/// let quality = ImageMetrics.psnr(shown, pane)
/// ```
public enum SixelDecoder {
    public static func decode(_ sixel: [UInt8]) throws -> PixelImage {
        var input = sixel
        var pixels: UnsafeMutablePointer<UInt8>?
        var palette: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0, ncolors: Int32 = 0
        let status = input.withUnsafeMutableBufferPointer {
            sixel_decode_raw($0.baseAddress, Int32($0.count), &pixels, &width, &height, &palette, &ncolors, nil)
        }
        defer { free(pixels); free(palette) }
        guard pleura_sixel_succeeded(status) != 0, let pixels, let palette, width > 0, height > 0 else {
            throw PleuraError(file: nil, "not a decodable sixel image (libsixel status \(status))")
        }
        let n = Int(width) * Int(height)
        var out = [UInt8](repeating: 0, count: 3 * n)
        let colours = Int(ncolors)
        for i in 0..<n {
            let k = Int(pixels[i])
            guard k < max(colours, 256) else { continue }
            out[3 * i] = palette[3 * k]; out[3 * i + 1] = palette[3 * k + 1]; out[3 * i + 2] = palette[3 * k + 2]
        }
        return PixelImage(width: Int(width), height: Int(height), format: .rgb24, pixels: out)
    }
}

/// Image comparisons used by tests and benchmarks.
public enum ImageMetrics {
    /// Peak signal-to-noise ratio in dB over all channels (both images converted to RGB; sizes must
    /// match). ∞ for identical images.
    public static func psnr(_ a: PixelImage, _ b: PixelImage) -> Double {
        precondition(a.width == b.width && a.height == b.height, "PSNR of images of different sizes")
        let x = a.toRGB().pixels, y = b.toRGB().pixels
        var sum = 0
        for i in x.indices { let d = Int(x[i]) - Int(y[i]); sum += d * d }
        if sum == 0 { return .infinity }
        let mse = Double(sum) / Double(x.count)
        return 10 * log10(255 * 255 / mse)
    }

    /// Normalised cross-correlation of the grey versions of two equally sized images, in [−1, 1].
    public static func normalizedCrossCorrelation(_ a: PixelImage, _ b: PixelImage) -> Double {
        precondition(a.width == b.width && a.height == b.height, "NCC of images of different sizes")
        let x = a.toGray().pixels.map(Double.init), y = b.toGray().pixels.map(Double.init)
        let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            let dx = x[i] - mx, dy = y[i] - my
            sxy += dx * dy; sxx += dx * dx; syy += dy * dy
        }
        guard sxx > 0, syy > 0 else { return 0 }
        return sxy / (sxx * syy).squareRoot()
    }

    /// How much a reproduction posterises (false contours, banding) the picture's brightness.
    public struct Banding: Equatable, Sendable {
        /// Distinct brightnesses (channel mean, 0–255) the reproduction shows on the picture's
        /// pixels: the source's own count when nothing is quantised, 9 for a 9-level ramp.
        public var levels: Int
        /// The largest jump between neighbouring brightnesses shown, over the source's 1st–99th
        /// percentile: 1 when every brightness can be shown, ~25 for a 9-level ramp. A smooth
        /// gradient or speckle shows steps this large as contour bands.
        public var largestStep: Int
    }

    /// Banding of `shown` against `source` (equal sizes), over the picture's pixels: those whose
    /// source brightness is above 8 (the black background and padding shows nothing either way).
    public static func banding(shown: PixelImage, source: PixelImage) -> Banding {
        precondition(shown.width == source.width && shown.height == source.height, "banding of images of different sizes")
        let a = shown.toRGB().pixels, b = source.toRGB().pixels
        var histogram = [Int](repeating: 0, count: 256)
        var seen = [Bool](repeating: false, count: 256)
        var pairs: [(UInt8, UInt8)] = []
        pairs.reserveCapacity(a.count / 3)
        for i in stride(from: 0, to: a.count, by: 3) {
            let src = (Int(b[i]) + Int(b[i + 1]) + Int(b[i + 2]) + 1) / 3
            guard src > 8 else { continue }
            let out = (Int(a[i]) + Int(a[i + 1]) + Int(a[i + 2]) + 1) / 3
            histogram[src] += 1
            pairs.append((UInt8(src), UInt8(out)))
        }
        guard !pairs.isEmpty else { return Banding(levels: 0, largestStep: 0) }
        // The source's 1st and 99th percentile brightness.
        func percentile(_ q: Double) -> Int {
            let target = Int(Double(pairs.count) * q)
            var sum = 0
            for v in 0..<256 { sum += histogram[v]; if sum > target { return v } }
            return 255
        }
        let lo = percentile(0.01), hi = percentile(0.99)
        for (src, out) in pairs where Int(src) >= lo && Int(src) <= hi { seen[Int(out)] = true }
        let used = (0..<256).filter { seen[$0] }
        var step = 0
        for (x, y) in zip(used, used.dropFirst()) { step = max(step, y - x) }
        return Banding(levels: used.count, largestStep: step)
    }
}
