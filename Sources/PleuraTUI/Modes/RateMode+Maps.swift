import Foundation
import PleuraCore
import PleuraRender
import PleuraStore

/// Rate mode's maps: which class each map explains, and each frame's map from the store or
/// computed and stored, prepared a step at a time so the screen answers keys meanwhile.
extension RateMode {
    /// An item's maps while they are prepared one frame at a time (the screen answers keys between
    /// steps): per map, the class it explains (for a predicted clip target: the probabilities summed
    /// over its frames first), then each frame's map from the store or computed and stored.
    struct Preparation {
        var variant = 0
        var className: String? = nil
        var sums: [Float] = []
        var nextFrame = 0
        var maps: [Int: Heatmap] = [:]
        var shas: [(frame: Int, sha256: String)] = []
        var out: [ResolvedMap] = []
        var stepsDone = 0
        var steps = 1
    }

    /// The item's maps: from the store where `pleura infer` (or an earlier view) put them, else
    /// computed now and stored (so `pleura ratings verify` and the next rater find them).
    func resolve(_ it: Item, _ shell: Shell) throws -> [ResolvedMap] {
        try prepare(it, shell, until: .infinity)!
    }

    /// How far the maps of the item on screen are (0…1) while being prepared; nil when ready.
    public var mapsBeingPrepared: Double? { preparedFraction(item) }

    /// Whether the item's maps are ready; how far their preparation is (0…1) when not.
    func preparedFraction(_ it: Item) -> Double? {
        if resolved[it.trialID] != nil { return nil }
        guard let p = preparing[it.trialID] else { return 0 }
        return Double(p.stepsDone) / Double(max(1, p.steps))
    }

    /// Prepares the item's maps until they are ready (returns them) or `deadline` passes (returns
    /// nil; the next call goes on where this one stopped). Each step is one frame's forward pass or
    /// map, so a deadline is overrun by one step at most.
    func prepare(_ it: Item, _ shell: Shell, until deadline: Double) throws -> [ResolvedMap]? {
        if let done = resolved[it.trialID] { return done }
        try shell.open(it.clip)
        guard let reader = shell.reader(ofClip: it.clip) else { return [] }
        let look = OverlaySettings(colormap: settings.colormap, opacity: Double(settings.opacityPercent) / 100,
                                   threshold: settings.threshold > 0 ? settings.threshold : nil)
        let frames = it.frame.map { [$0] } ?? Array(0..<reader.frameCount)
        var p = preparing[it.trialID] ?? {
            var fresh = Preparation()
            let passes = settings.target == .predicted && it.frame == nil ? 2 : 1
            fresh.steps = it.variants.count * frames.count * passes
            return fresh
        }()
        defer { if resolved[it.trialID] == nil { preparing[it.trialID] = p } else { preparing[it.trialID] = nil } }
        repeat {
            if p.variant == it.variants.count {
                resolved[it.trialID] = p.out
                return p.out
            }
            let variant = settings.variants[it.variants[p.variant]]
            guard let model = models[variant.model] else {
                throw PleuraError(file: variant.model, "the model of this item is not loaded")
            }
            // The class the map explains: the session's, the reference's, or the model's top class
            // (for a clip: of the probabilities summed over its frames, as Born et al. rated clips).
            if p.className == nil {
                switch settings.target {
                case .className(let c):
                    guard model.classes.contains(c) else {
                        throw PleuraError(file: shell.session.file.path, "rate.target '\(SafeText.sanitize(c))' is not a class of the model (classes: \(model.classes.joined(separator: ", ")))")
                    }
                    p.className = c
                case .reference:
                    // The class whose label the reference gave (checked for every model at start).
                    guard let label = it.referenceLabel, let c = model.className(forLabel: label) else {
                        throw PleuraError(file: shell.session.file.path, "rate.target reference:…: no class of model \(Self.shortModel(variant.model)) "
                                          + "stands for the reference's \(SafeText.sanitize(it.referenceLabel ?? "missing")) label")
                    }
                    p.className = c
                case .predicted:
                    if p.nextFrame < frames.count {
                        let probs = try model.probabilities(of: reader.frame(frames[p.nextFrame]), in: reader)
                        if p.sums.count != model.classes.count { p.sums = [Float](repeating: 0, count: model.classes.count) }
                        for (i, v) in probs.enumerated() where i < p.sums.count { p.sums[i] += v }
                        p.nextFrame += 1
                        if frames.count > 1 { p.stepsDone += 1 }
                        continue
                    }
                    p.className = p.sums.indices.max { p.sums[$0] < p.sums[$1] }.map { model.classes[$0] } ?? model.classes[0]
                    p.nextFrame = 0
                }
            }
            let className = p.className!
            let target = "\(model.head)/\(className)"
            if p.nextFrame < frames.count {
                let f = frames[p.nextFrame]
                let ref = ItemRef(mediaSHA256: reader.sha256, frame: f)
                var record = try backend.storedHeatmap(item: ref, modelSHA256: model.sha256, method: variant.method.rawValue, target: target, layer: model.layer)
                if record == nil {
                    let map = try model.heatmap(of: reader.frame(f), in: reader, className: className, method: variant.method)
                    record = try backend.storeHeatmap(Self.record(map, item: ref, model: model, method: variant.method, target: target))
                }
                let r = record!
                p.maps[f] = try model.onFrame(Heatmap(width: r.map.width, height: r.map.height, values: r.map.pixels.map { Float($0) / 255 }), of: reader)
                p.shas.append((f, r.sha256))
                p.nextFrame += 1
                p.stepsDone += 1
                continue
            }
            let mapSHA = it.frame == nil ? HeatmapContext.clipSHA256(frameMaps: p.shas) : p.shas[0].sha256
            let context = HeatmapContext(modelSHA256: model.sha256, method: variant.method.rawValue, layer: model.layer,
                                         target: target, heatmapSHA256: mapSHA)
            let slot: TrialSlot? = it.variants.count == 2 ? (p.variant == 0 ? .a : .b) : nil
            p.out.append(ResolvedMap(rated: RatedMap(heatmap: context, overlay: look, slot: slot), maps: p.maps, className: className))
            p.variant += 1
            p.className = nil; p.sums = []; p.nextFrame = 0; p.maps = [:]; p.shas = []
        } while Measure.now() < deadline
        return nil
    }

    /// A map as the store keeps it: 8 bits, as `pleura infer` quantises it.
    static func record(_ map: Heatmap, item: ItemRef, model: RatingModel, method: HeatmapMethod, target: String) -> HeatmapRecord {
        let bytes = map.values.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }
        return HeatmapRecord(item: item, modelSHA256: model.sha256, method: method.rawValue, target: target, layer: model.layer,
                             map: PixelImage(width: map.width, height: map.height, format: .gray8, pixels: bytes))
    }
}
