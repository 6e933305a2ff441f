import Foundation
import PleuraCore
import PleuraModel
import PleuraRender

/// ``FrameExplainer`` over PleuraModel's `ModelRuntime` (TorchScript through libtorch).
public final class ModelExplainer: FrameExplainer {
    private let runtime: ModelRuntime
    public let name: String
    public let targetHead: String
    public let targetClasses: [String]

    public init(runtime: ModelRuntime) {
        self.runtime = runtime
        name = SafeText.sanitize(runtime.card.name)
        targetHead = runtime.card.defaultHead
        targetClasses = runtime.card.heads.first { $0.name == runtime.card.defaultHead }?.classes ?? []
    }

    /// Loads the session's model (`[model] path`, `embedded` or absent = the embedded default
    /// model) with `$PLEURA_THREADS` threads (default 1). Throws a PleuraError naming the file
    /// when it is missing or unusable.
    public static func load(for session: Session) throws -> ModelExplainer {
        ModelExplainer(runtime: try Model.load(path: session.model?.path))
    }

    public func predictions(of image: PixelImage) throws -> [HeadPrediction] {
        headPredictions(try runtime.predict(image))
    }

    public func heatmap(of image: PixelImage, className: String, method: HeatmapMethod) throws -> PleuraRender.Heatmap {
        render(try runtime.heatmap(image, head: targetHead, class: className, method: method))
    }

    public func predictionsAndTopHeatmap(of image: PixelImage, method: HeatmapMethod) throws
        -> (predictions: [HeadPrediction], className: String, heatmap: PleuraRender.Heatmap)
    {
        let r = try runtime.analyse(image, targets: [.top(head: targetHead)], methods: [method])
        return (headPredictions(r.predictions), r.heatmaps[0].className, render(r.heatmaps[0]))
    }

    private func headPredictions(_ p: Predictions) -> [HeadPrediction] {
        runtime.card.heads.compactMap { head in
            guard let probs = p[head.name] else { return nil }
            return HeadPrediction(head: head.name, isMultilabel: head.isMultilabel,
                                  probabilities: head.classes.map { ($0, probs[$0] ?? 0) })
        }
    }

    private func render(_ m: PleuraModel.Heatmap) -> PleuraRender.Heatmap {
        // Sector models see a crop: their map goes back onto the frame's grid, 0 outside the sector.
        guard m.sector != nil else { return PleuraRender.Heatmap(width: m.width, height: m.height, values: m.values) }
        let g = m.onFrameGrid()
        return PleuraRender.Heatmap(width: g.width, height: g.height, values: g.values)
    }
}
