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
}
