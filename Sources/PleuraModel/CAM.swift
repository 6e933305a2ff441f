import Foundation

/// The class-activation-map methods Pleura computes, numerically as pytorch-grad-cam defines them
/// (target = the class's raw logit, not its softmax), plus the POCOVID-Net look.
///
/// Every method but ``pocovid`` ends the same way: ReLU of the weighted sum of activations, per-image
/// min-max normalisation (`(cam - min) / (max + 1e-7)`), bilinear resize to the input size with
/// half-pixel centres (OpenCV's `resize`), then min-max once more (pytorch-grad-cam normalises the
/// layer-averaged map again; with one layer that is the resized map).
public enum CAMMethod: String, CaseIterable, Sendable, Codable {
    /// α_k = mean over the map of ∂y/∂A_k; cam = ReLU(Σ_k α_k A_k).
    case gradcam
    /// Grad-CAM++: α from the second and third powers of the gradient (pytorch-grad-cam's
    /// `GradCAMPlusPlus.get_cam_weights`, eps 1e-6).
    case gradcampp = "gradcam++"
    /// LayerCAM: cam = ReLU(Σ_k ReLU(∂y/∂A_k) · A_k), element-wise.
    case layercam
    /// POCOVID-Net's preset (Born et al. 2021): guided gradients (only where activation > 0 and
    /// gradient > 0), α = their mean, cam = Σ α A (no ReLU), resized first, then min-max
    /// normalised, values below 0.4 set to 0. Overlay with ``overlayWeights`` (image 0.4, heatmap 0.3).
    case pocovid

    /// Accepts the canonical names plus `gradcampp`, `grad-cam`, `grad-cam++`, `layer-cam`.
    public init?(name: String) {
        let n = name.lowercased().replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "")
        switch n {
        case "gradcam": self = .gradcam
        case "gradcam++", "gradcampp", "gradcamplusplus": self = .gradcampp
        case "layercam": self = .layercam
        case "pocovid": self = .pocovid
        default: return nil
        }
    }

    /// Threshold under which the map is zeroed (pocovid only).
    public var threshold: Float? { self == .pocovid ? 0.4 : nil }

    /// How the map is blended over the frame: `image · image + heatmap · colour(map)`. The
    /// pytorch-grad-cam methods use 0.5 / 0.5 (then rescaled by the max, as `show_cam_on_image`);
    /// pocovid uses Born et al.'s 0.4 / 0.3.
    public var overlayWeights: (image: Float, heatmap: Float) {
        self == .pocovid ? (0.4, 0.3) : (0.5, 0.5)
    }
}

/// The arithmetic of the CAM family on one image's activations A and gradients G (both K×h×w,
/// row-major), in Double so the result does not depend on summation order at the 1e-7 level.
enum CAMMath {
    static func map(method: CAMMethod, activations a: [Float], gradients g: [Float], channels k: Int,
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
