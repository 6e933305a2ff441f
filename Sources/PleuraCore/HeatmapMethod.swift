import Foundation

/// The class-activation-map methods Pleura computes, numerically as pytorch-grad-cam defines them
/// (target = the class's raw logit, not its softmax), plus the POCOVID-Net look. The one list of
/// methods: sessions (`[model] heatmap`), `--method` options, the TUI's method cycle and the model
/// runtime all use it, so nothing can ask for a method the model does not implement.
///
/// Every method but ``pocovid`` ends the same way: ReLU of the weighted sum of activations, per-image
/// min-max normalisation (`(cam - min) / (max + 1e-7)`), bilinear resize to the input size with
/// half-pixel centres (OpenCV's `resize`), then min-max once more (pytorch-grad-cam normalises the
/// layer-averaged map again; with one layer that is the resized map).
public enum HeatmapMethod: String, CaseIterable, Sendable, Codable {
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

    /// Accepts the canonical names plus `gradcampp`, `grad-cam`, `grad-cam++`, `layer-cam`
    /// (case, `-` and `_` ignored).
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

    /// The canonical names, for error messages: `gradcam, gradcam++, layercam, pocovid`.
    public static var validNames: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Threshold under which the map is zeroed (pocovid only).
    public var threshold: Float? { self == .pocovid ? 0.4 : nil }

    /// How the map is blended over the frame: `image · image + heatmap · colour(map)`. The
    /// pytorch-grad-cam methods use 0.5 / 0.5 (then rescaled by the max, as `show_cam_on_image`);
    /// pocovid uses Born et al.'s 0.4 / 0.3.
    public var overlayWeights: (image: Float, heatmap: Float) {
        self == .pocovid ? (0.4, 0.3) : (0.5, 0.5)
    }
}
