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
    /// Sector models: each clip's scan sector (by the clip's SHA-256; nil for whole-frame
    /// models), found once per clip from its sample frames: finding it from every frame alone
    /// cost more than the model pass, and gave other inputs than `pleura infer`.
    private var sectors: [String: ScanSector?] = [:]
    private var sectorOrder: [String] = []
    static let sectorCacheLimit = 16

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

    public func predictions(of image: PixelImage, in clip: ClipReader) throws -> [HeadPrediction] {
        let r = try runtime.analysis(image, sector: try sector(of: clip, frame: image), targets: [], methods: [])
        return headPredictions(r.predictions, spread: r.uncertainty)
    }

    public func heatmap(of image: PixelImage, in clip: ClipReader, className: String, method: HeatmapMethod) throws -> PleuraRender.Heatmap {
        let r = try runtime.analyse(image, sector: try sector(of: clip, frame: image),
                                    targets: [CAMTarget(head: targetHead, className: className)], methods: [method])
        return render(r.heatmaps[0])
    }

    public func predictionsAndTopHeatmap(of image: PixelImage, in clip: ClipReader, method: HeatmapMethod) throws
        -> (predictions: [HeadPrediction], className: String, heatmap: PleuraRender.Heatmap)
    {
        let r = try runtime.analysis(image, sector: try sector(of: clip, frame: image), targets: [.top(head: targetHead)], methods: [method])
        return (headPredictions(r.predictions, spread: r.uncertainty), r.heatmaps[0].className, render(r.heatmaps[0]))
    }

    public func isReady(for clip: ClipReader) -> Bool { !runtime.usesSector || sectors[clip.sha256] != nil }

    public func prepare(for clip: ClipReader) { _ = clipSector(clip) }

    /// The clip's sector, found once (cached by SHA-256). A clip whose sample frames cannot be
    /// read gets nil: each frame's sector is then found from that frame alone.
    private func clipSector(_ clip: ClipReader) -> ScanSector? {
        let key = clip.sha256
        if let cached = sectors[key] { return cached }
        let found = (try? runtime.clipSector(frameCount: clip.frameCount) { try clip.frame($0) }).map { MediaClipReader.bounded($0, for: clip) }
        sectors[key] = .some(found)
        sectorOrder.append(key)
        if sectorOrder.count > Self.sectorCacheLimit { sectors[sectorOrder.removeFirst()] = nil }
        return found
    }

    /// The sector for a frame of `clip` (nil for whole-frame models). A frame of another size
    /// than the clip's sample frames gets its own.
    private func sector(of clip: ClipReader, frame: PixelImage) throws -> ScanSector? {
        guard runtime.usesSector, let found = clipSector(clip), found.width == frame.width, found.height == frame.height else { return nil }
        return found
    }

    private func headPredictions(_ p: Predictions, spread: Predictions) -> [HeadPrediction] {
        runtime.card.heads.compactMap { head in
            guard let probs = p[head.name] else { return nil }
            return HeadPrediction(head: head.name, isMultilabel: head.isMultilabel,
                                  probabilities: head.classes.map { ($0, probs[$0] ?? 0) }, spread: spread[head.name] ?? [:])
        }
    }

    private func render(_ m: PleuraModel.Heatmap) -> PleuraRender.Heatmap {
        // Sector models see a crop: their map goes back onto the frame's grid, 0 outside the sector.
        guard m.sector != nil else { return PleuraRender.Heatmap(width: m.width, height: m.height, values: m.values) }
        let g = m.onFrameGrid()
        return PleuraRender.Heatmap(width: g.width, height: g.height, values: g.values)
    }
}

/// Rate mode's ``RatingModel`` over PleuraModel's `ModelRuntime`: the card's default head and
/// Grad-CAM layer, the file's SHA-256 for provenance.
public final class RuntimeRatingModel: RatingModel {
    private let runtime: ModelRuntime
    public let sha256: String
    public let layer: String
    public let head: String
    public let classes: [String]
    public let isMultilabel: Bool
    private let labels: ModelCard.Labels?
    public var labelField: String? { labels?.field }

    /// Loads a model (`embedded` or a path) as `pleura infer` does, and hashes its file. `head`:
    /// the head whose maps are rated (nil: the card's default head).
    public init(path: String, head: String? = nil) throws {
        let loaded = try Model.load(path: path)
        runtime = loaded
        sha256 = try SHA256.hexOfFile(atPath: loaded.modelURL.path)
        layer = loaded.card.gradCAMLayer
        let name = head ?? loaded.card.defaultHead
        guard let chosen = loaded.card.head(named: name) else {
            throw PleuraError(file: loaded.modelURL.path, "the model has no head '\(SafeText.sanitize(name))' (heads: "
                              + loaded.card.heads.map(\.name).joined(separator: ", ") + "); fix rate.head in the session")
        }
        self.head = name
        classes = chosen.classes
        isMultilabel = chosen.isMultilabel
        labels = chosen.labels
    }

    public func className(forLabel text: String) -> String? { labels?.className(forLabel: text) }

    public func heatmap(of image: PixelImage, in clip: ClipReader, className: String, method: HeatmapMethod) throws -> PleuraRender.Heatmap {
        let r = try runtime.analysis(image, sector: try sector(of: clip, frame: image),
                                     targets: [CAMTarget(head: head, className: className)], methods: [method])
        let m = r.heatmaps[0]
        return PleuraRender.Heatmap(width: m.width, height: m.height, values: m.values)
    }

    public func probabilities(of image: PixelImage, in clip: ClipReader) throws -> [Float] {
        let p = try runtime.analysis(image, sector: try sector(of: clip, frame: image), targets: [], methods: []).predictions
        return classes.map { p[head]?[$0] ?? 0 }
    }

    public func onFrame(_ map: PleuraRender.Heatmap, of clip: ClipReader) throws -> PleuraRender.Heatmap {
        guard runtime.usesSector, let s = try clipSector(clip) else { return map }
        let g = PleuraModel.Heatmap(head: head, className: "", method: .gradcam, width: map.width, height: map.height, values: map.values,
                                    frameWidth: s.width, frameHeight: s.height, sector: s).onFrameGrid()
        return PleuraRender.Heatmap(width: g.width, height: g.height, values: g.values)
    }

    /// Sectors by clip SHA-256, found once per clip from its sample frames (as `pleura infer`).
    private var sectors: [String: ScanSector?] = [:]

    private func clipSector(_ clip: ClipReader) throws -> ScanSector? {
        if let known = sectors[clip.sha256] { return known }
        let found = try runtime.clipSector(frameCount: clip.frameCount) { try clip.frame($0) }.map { MediaClipReader.bounded($0, for: clip) }
        sectors[clip.sha256] = .some(found)
        return found
    }

    private func sector(of clip: ClipReader, frame: PixelImage) throws -> ScanSector? {
        guard let s = try clipSector(clip), s.width == frame.width, s.height == frame.height else { return nil }
        return s
    }
}
