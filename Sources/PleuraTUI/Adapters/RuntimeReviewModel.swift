import Foundation
import PleuraCore
import PleuraModel
import PleuraRender

/// Review mode's ``ReviewModel`` over PleuraModel's `ModelRuntime`: maps of any head's class,
/// put back on the frame's grid for sector models (0 outside the scan sector).
public final class RuntimeReviewModel: ReviewModel {
    private let runtime: ModelRuntime
    public let name: String
    public let sha256: String
    public let heads: [String: [String]]

    /// Loads a model (`embedded` or a path) as `pleura infer` does, and hashes its file.
    public init(path: String?) throws {
        let loaded = try Model.load(path: path)
        runtime = loaded
        name = SafeText.sanitize(loaded.card.name)
        sha256 = try SHA256.hexOfFile(atPath: loaded.modelURL.path)
        heads = Dictionary(uniqueKeysWithValues: loaded.card.heads.map { ($0.name, $0.classes) })
    }

    public func heatmap(of image: PixelImage, head: String, className: String, method: HeatmapMethod) throws -> PleuraRender.Heatmap {
        let m = try runtime.heatmap(image, head: head, class: className, method: method)
        guard m.sector != nil else { return PleuraRender.Heatmap(width: m.width, height: m.height, values: m.values) }
        let g = m.onFrameGrid()
        return PleuraRender.Heatmap(width: g.width, height: g.height, values: g.values)
    }
}
