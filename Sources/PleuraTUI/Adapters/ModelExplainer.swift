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
    /// model). Throws a PleuraError naming the file when it is missing or unusable.
    public static func load(for session: Session, threads: Int = 1) throws -> ModelExplainer {
        let url: URL
        if let path = session.model?.path, path != "embedded" {
            url = URL(fileURLWithPath: path)
        } else if let found = Model.defaultModelURL {
            url = found
        } else {
            throw PleuraError(file: Model.defaultModelName, "embedded model not found; set [model] path in the session or PLEURA_MODEL")
        }
        return ModelExplainer(runtime: try ModelRuntime.load(url, threads: threads))
    }

    public func predictions(of image: PixelImage) throws -> [HeadPrediction] {
        let p = try runtime.predict(image)
        return runtime.card.heads.compactMap { head in
            guard let probs = p[head.name] else { return nil }
            return HeadPrediction(head: head.name, isMultilabel: head.isMultilabel,
                                  probabilities: head.classes.map { ($0, probs[$0] ?? 0) })
        }
    }

    public func heatmap(of image: PixelImage, className: String, method: HeatmapMethod) throws -> PleuraRender.Heatmap {
        let m = try runtime.heatmap(image, head: targetHead, class: className, method: method)
        return PleuraRender.Heatmap(width: m.width, height: m.height, values: m.values)
    }
}
