import Foundation
import PleuraCore

/// The arithmetic of the CAM family on one image's activations A and gradients G (both K×h×w,
/// row-major), in Double so the result does not depend on summation order at the 1e-7 level.
enum CAMMath {
    static func map(method: HeatmapMethod, activations a: [Float], gradients g: [Float], channels k: Int,
                    height h: Int, width w: Int, outWidth: Int, outHeight: Int) -> [Float] {
        let n = h * w
        var cam = [Double](repeating: 0, count: n)
        switch method {
        case .gradcam, .pocovid:
            for c in 0..<k {
                var s = 0.0
                for i in 0..<n {
                    let gi = Double(g[c * n + i])
                    if method == .pocovid { if a[c * n + i] > 0 && gi > 0 { s += gi } } else { s += gi }
                }
                let alpha = s / Double(n)
                if alpha == 0 { continue }
                for i in 0..<n { cam[i] += alpha * Double(a[c * n + i]) }
            }
        case .gradcampp:
            for c in 0..<k {
                var sumA = 0.0
                for i in 0..<n { sumA += Double(a[c * n + i]) }
                var weight = 0.0
                for i in 0..<n {
                    let gi = Double(g[c * n + i])
                    guard gi > 0 else { continue }   // ReLU(g) · aij is 0 wherever g <= 0
                    let g2 = gi * gi, g3 = g2 * gi
                    weight += gi * g2 / (2 * g2 + sumA * g3 + 1e-6)
                }
                if weight == 0 { continue }
                for i in 0..<n { cam[i] += weight * Double(a[c * n + i]) }
            }
        case .layercam:
            for c in 0..<k {
                for i in 0..<n {
                    let gi = Double(g[c * n + i])
                    if gi > 0 { cam[i] += gi * Double(a[c * n + i]) }
                }
            }
        }
        if method == .pocovid {
            var up = resizeBilinear(cam, width: w, height: h, outWidth: outWidth, outHeight: outHeight)
            let lo = up.min() ?? 0, hi = up.max() ?? 0
            let denom = (hi - lo) + 1e-8
            for i in up.indices {
                let v = (up[i] - lo) / denom
                up[i] = v < 0.4 ? 0 : v
            }
            return up.map(Float.init)
        }
        for i in 0..<n where cam[i] < 0 { cam[i] = 0 }
        normalise(&cam)
        var up = resizeBilinear(cam, width: w, height: h, outWidth: outWidth, outHeight: outHeight)
        normalise(&up)
        return up.map(Float.init)
    }

    /// `(x - min) / (max' + 1e-7)` where max' is the maximum after subtracting the minimum.
    static func normalise(_ v: inout [Double]) {
        guard let lo = v.min() else { return }
        var hi = -Double.infinity
        for i in v.indices { v[i] -= lo; hi = max(hi, v[i]) }
        let d = hi + 1e-7
        for i in v.indices { v[i] /= d }
    }

    /// Bilinear resize with half-pixel centres and edge clamping, as OpenCV's `INTER_LINEAR` and
    /// torch's `interpolate(mode="bilinear", align_corners=False)` (no antialiasing).
    static func resizeBilinear(_ src: [Double], width w: Int, height h: Int, outWidth ow: Int, outHeight oh: Int) -> [Double] {
        func taps(_ outCount: Int, _ inCount: Int) -> [(Int, Int, Double)] {
            let scale = Double(inCount) / Double(outCount)
            return (0..<outCount).map { o in
                var s = (Double(o) + 0.5) * scale - 0.5
                if s < 0 { s = 0 }
                let i0 = min(Int(s.rounded(.down)), inCount - 1)
                let i1 = min(i0 + 1, inCount - 1)
                return (i0, i1, s - Double(i0))
            }
        }
        let xs = taps(ow, w), ys = taps(oh, h)
        var out = [Double](repeating: 0, count: ow * oh)
        for (oy, (y0, y1, ty)) in ys.enumerated() {
            for (ox, (x0, x1, tx)) in xs.enumerated() {
                let top = src[y0 * w + x0] * (1 - tx) + src[y0 * w + x1] * tx
                let bottom = src[y1 * w + x0] * (1 - tx) + src[y1 * w + x1] * tx
                out[oy * ow + ox] = top * (1 - ty) + bottom * ty
            }
        }
        return out
    }
}
