import Foundation
import PleuraCore

/// Synthetic lung-ultrasound-like frames and heatmaps for render tests: deterministic (seeded),
/// made in code so tests need no data files.
public enum TestFrames {
    /// A grey convex-probe LUS-like frame: a fan-shaped sector on black, correlated speckle, a
    /// bright pleural line with two fading A-lines below it and one B-line streak.
    public static func lung(width: Int = 320, height: Int = 320, seed: UInt64 = 1) -> PixelImage {
        var rng = SplitMix64(seed: seed)
        // Speckle: exponential-ish noise, then a 3×3 box blur for the grain of a real scan.
        var noise = [Double](repeating: 0, count: width * height)
        for i in noise.indices { noise[i] = -log(max(1e-6, rng.nextUnit())) }
        var speckle = noise
        for y in 0..<height {
            for x in 0..<width {
                var s = 0.0, n = 0.0
                for dy in -1...1 { for dx in -1...1 {
                    let yy = y + dy, xx = x + dx
                    if yy >= 0, yy < height, xx >= 0, xx < width { s += noise[yy * width + xx]; n += 1 }
                } }
                speckle[y * width + x] = s / n
            }
        }
        let apexX = Double(width) / 2, apexY = -Double(height) * 0.15
        let rMin = Double(height) * 0.2, rMax = Double(height) * 1.1
        let halfAngle = 0.62
        let pleura = Double(height) * 0.28
        var out = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                let dx = Double(x) - apexX, dy = Double(y) - apexY
                let r = (dx * dx + dy * dy).squareRoot(), angle = atan2(dx, dy)
                guard r >= rMin, r <= rMax, abs(angle) <= halfAngle else { continue }
                let depth = r - rMin
                var tissue = 55.0 * exp(-depth / Double(height))           // soft tissue, attenuating
                for (k, gain) in [(1.0, 150.0), (2.0, 70.0), (3.0, 35.0)] { // pleural line and A-lines
                    let d = depth - k * pleura
                    tissue += gain * exp(-d * d / 18)
                }
                if depth > pleura, abs(angle - 0.18) < 0.035 { tissue += 90 * exp(-(depth - pleura) / Double(height)) }
                let v = tissue * speckle[y * width + x]
                out[y * width + x] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        return PixelImage(width: width, height: height, format: .gray8, pixels: out)
    }

    /// A Gaussian blob heatmap in [0, 1] (peak 1 at `(cx, cy)`, fractions of the size).
    public static func blob(width: Int, height: Int, cx: Double = 0.6, cy: Double = 0.55,
                            sigma: Double = 0.18) -> [Float] {
        var out = [Float](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                let dx = Double(x) / Double(width) - cx, dy = Double(y) / Double(height) - cy
                out[y * width + x] = Float(exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)))
            }
        }
        return out
    }
}
