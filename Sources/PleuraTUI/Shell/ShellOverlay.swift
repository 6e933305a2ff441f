import Foundation
import PleuraCore
import PleuraRender

extension Shell {
    /// Whether the model behind predictions and overlays is usable.
    public enum ModelStatus: Equatable {
        /// Not loaded yet (it loads while the user is idle, or on the first overlay key).
        case notLoaded
        /// Loading on a background thread (started while the user was idle); keys keep working.
        case loading
        case loaded
        /// Missing or broken: one sanitised line saying why (overlays stay off).
        case unavailable(String)
    }

    /// The heatmap overlay's settings (they persist across frames and clips).
    public struct Overlay: Equatable {
        public var isOn = false
        public var method: HeatmapMethod
        /// Index into ``Shell/targetClassOrder`` (0 = the predicted class), so the
        /// overlay follows "the predicted class" from frame to frame.
        public var targetRank = 0
        /// Percent, ``Shell/opacityRange`` in steps of ``Shell/opacityStep``.
        public var opacityPercent = 50
    }
    public static let opacityRange = 10...100
    public static let opacityStep = 10
    static let heatmapCacheLimit = 64

    /// The model, loaded (nil before and when it cannot be).
    public var loadedExplainer: FrameExplainer? { explainer }
}

// MARK: model: predictions and heatmap overlay

extension Shell {
    /// Loads the model if that has not been tried yet (or waits for the background load already
    /// running); true when the status changed (the panel needs a redraw). A failure becomes
    /// ``ModelStatus/unavailable(_:)`` with one sanitised line. Used by the overlay keys, which
    /// need the model now.
    @discardableResult
    public func loadModelIfNeeded() -> Bool {
        if let pendingModel { return install(pendingModel.wait()) }
        guard modelStatus == .notLoaded, let loadExplainer else { return false }
        return install(Result { try loadExplainer() })
    }

    /// Starts loading the model on a background thread (libtorch and the model take about a
    /// second; the user keeps labelling meanwhile). ``collectBackgroundModel()`` installs it.
    public func startModelLoadInBackground() {
        guard modelStatus == .notLoaded, let loadExplainer else { return }
        pendingModel = BackgroundJob(loadExplainer)
        modelStatus = .loading
    }

    /// Installs the background-loaded model once it is ready; true when the status changed.
    @discardableResult
    public func collectBackgroundModel() -> Bool {
        guard let pendingModel, let result = pendingModel.result else { return false }
        return install(result)
    }

    private func install(_ result: Result<FrameExplainer, Error>) -> Bool {
        pendingModel = nil
        switch result {
        case .success(let loaded):
            explainer = loaded
            modelStatus = .loaded
        case .failure(let error):
            let line = (error as? PleuraError)?.description ?? "\(error)"
            modelStatus = .unavailable(SafeText.sanitize(line))
        }
        return true
    }

    /// Whether the idle loop should load the model now: predictions are shown in the panel of
    /// unblinded sessions; blinded ones load it only when an overlay key asks.
    public var wantsIdleModelLoad: Bool { modelStatus == .notLoaded && !session.blinding && loadExplainer != nil && mode.usesShellOverlay }

    /// Whether the model has done its once-per-clip work for the clip on screen (true without
    /// a model). Until then predictions and the overlay are held back, so a key that lands on a
    /// new clip shows the frame at once; ``prepareModelForClip()`` does it while the user is idle.
    public var modelIsReadyForClip: Bool {
        guard let explainer, let reader else { return true }
        return explainer.isReady(for: reader)
    }

    /// While the user is idle: the model's once-per-clip work for the clip on screen (a sector
    /// model's scan sector, from 16 of its frames); true when it was done now (predictions and
    /// the overlay can be drawn).
    @discardableResult
    public func prepareModelForClip() -> Bool {
        guard !modelIsReadyForClip, let explainer, let reader else { return false }
        explainer.prepare(for: reader)
        return true
    }

    /// The frame's predictions (computed once per frame); nil without a model, while playing,
    /// before the model's work for the clip is done (``modelIsReadyForClip``), or when the model
    /// failed on this frame (``frameModelError`` says why).
    public func currentPredictions() -> [HeadPrediction]? {
        guard explainer != nil, !isPlaying, modelIsReadyForClip else { return nil }
        do {
            let p = try predictions(atFrame: frame)
            frameModelError = nil
            return p
        } catch {
            frameModelError = SafeText.sanitize((error as? PleuraError)?.reason ?? "\(error)")
            return nil
        }
    }

    /// Predictions for frame `f` of this clip, cached. With the overlay on and showing the
    /// predicted class, that class's map comes from the same model pass and is cached too.
    private func predictions(atFrame f: Int) throws -> [HeadPrediction]? {
        guard let explainer, let reader else { return nil }
        let key = "\(reader.sha256)/\(f)"
        if let cached = predictionCache[key] { return cached }
        let image = try reader.frame(f)
        let p: [HeadPrediction]
        if overlay.isOn && overlay.targetRank == 0 {
            let r = try explainer.predictionsAndTopHeatmap(of: image, in: reader, method: overlay.method)
            p = r.predictions
            rememberHeatmap(r.heatmap, key: "\(key)/\(overlay.method.rawValue)/\(r.className)")
        } else {
            p = try explainer.predictions(of: image, in: reader)
        }
        predictionCache[key] = p
        return p
    }

    /// The target classes overlays cycle through: the predicted class first, then by
    /// probability. Blinded sessions use the card's order, so the order does not reveal the
    /// prediction.
    public var targetClassOrder: [String] {
        guard explainer != nil else { return [] }
        // Blinded: the card's order, without running the model for predictions no one sees.
        return targetClassOrder(predictions: session.blinding ? nil : currentPredictions())
    }

    /// The class order given a frame's predictions (nil: the card's order).
    private func targetClassOrder(predictions: [HeadPrediction]?) -> [String] {
        guard let explainer else { return [] }
        if session.blinding { return explainer.targetClasses }
        if let head = predictions?.first(where: { $0.head == explainer.targetHead }) {
            return head.ranked.map(\.name)
        }
        return explainer.targetClasses
    }

    /// The map of `target` for frame `f` of this clip, cached.
    private func heatmap(atFrame f: Int, target: String) throws -> Heatmap? {
        guard let explainer, let reader else { return nil }
        let key = "\(reader.sha256)/\(f)/\(overlay.method.rawValue)/\(target)"
        if let cached = heatmapCache[key] { return cached }
        let map = try explainer.heatmap(of: try reader.frame(f), in: reader, className: target, method: overlay.method)
        rememberHeatmap(map, key: key)
        return map
    }

    /// While the user is idle: the model's work for frame `f` (the next one), so the key that
    /// shows it finds predictions and the overlay's map ready. Failures are left for that key.
    func prepareModelOutputs(forFrame f: Int) {
        guard explainer != nil, !isPlaying, modelIsReadyForClip else { return }
        let p = session.blinding ? nil : try? predictions(atFrame: f)
        guard overlay.isOn else { return }
        let order = targetClassOrder(predictions: p)
        guard !order.isEmpty else { return }
        _ = try? heatmap(atFrame: f, target: order[overlay.targetRank % order.count])
    }

    /// The class the overlay explains now.
    public var overlayTarget: String? {
        let order = targetClassOrder
        return order.isEmpty ? nil : order[overlay.targetRank % order.count]
    }

    /// How the heatmap is blended: jet at the chosen opacity; pocovid keeps Born et al.'s
    /// threshold and heatmap:image ratio (0.3 : 0.4), scaled by the opacity relative to 50 %.
    public static func overlayStyle(method: HeatmapMethod, opacityPercent: Int) -> OverlayStyle {
        var alpha = Float(opacityPercent) / 100
        if method == .pocovid {
            let w = method.overlayWeights
            alpha *= (w.heatmap / (w.image + w.heatmap)) / 0.5
        }
        return OverlayStyle(colormap: .jet, opacity: alpha, threshold: method.threshold)
    }

    /// Identifies what ``displayContent()`` draws besides the frame (for the screen's cache).
    public var overlayKey: String {
        guard mode.usesShellOverlay, overlay.isOn, modelStatus == .loaded, !isPlaying, modelIsReadyForClip else { return "plain" }
        return "\(overlay.method.rawValue)/\(overlayTarget ?? "-")/\(overlay.opacityPercent)"
    }

    /// What the pane shows: the frame, plus the heatmap and how to blend it when the overlay is
    /// on (not during playback: a map per frame would stall it). The pane composites after
    /// scaling. A model failure on this frame shows the plain frame and says why on the message line.
    public func displayContent() throws -> PaneContent? {
        if let own = try mode.paneContent(self) { return own.content }
        guard let image = try currentImage() else { return nil }
        guard overlay.isOn, explainer != nil, !isPlaying, modelIsReadyForClip, let target = overlayTarget else { return PaneContent(frame: image) }
        let map: Heatmap
        do {
            guard let m = try heatmap(atFrame: frame, target: target) else { return PaneContent(frame: image) }
            map = m
        } catch {
            let reason = SafeText.sanitize((error as? PleuraError)?.reason ?? "\(error)")
            frameModelError = reason
            say("no heatmap for this frame: " + reason, warning: true)
            return PaneContent(frame: image)
        }
        return PaneContent(frame: image, overlay: (map, Self.overlayStyle(method: overlay.method, opacityPercent: overlay.opacityPercent)))
    }

    /// ``displayContent()`` composited at the frame's own size.
    public func displayImage() throws -> PixelImage? { try displayContent()?.composited }

    /// Keeps a map for "sha256/frame/method/class" (the last ``heatmapCacheLimit`` maps).
    func rememberHeatmap(_ map: Heatmap, key: String) {
        if heatmapCache.updateValue(map, forKey: key) == nil { heatmapCacheOrder.append(key) }
        if heatmapCacheOrder.count > Self.heatmapCacheLimit { heatmapCache[heatmapCacheOrder.removeFirst()] = nil }
    }

    func overlayAction(_ action: Action) -> Effect {
        loadModelIfNeeded()
        if case .unavailable(let why) = modelStatus {
            say("overlays are off: " + why, warning: true)
            return .panel
        }
        let redraw: Effect = overlay.isOn ? .frame : .panel
        switch action {
        case .toggleOverlay:
            overlay.isOn.toggle()
            say(overlay.isOn ? "overlay on: \(overlayDescription)" : "overlay off")
            return .frame
        case .cycleHeatmapMethod:
            let all = HeatmapMethod.allCases
            overlay.method = all[((all.firstIndex(of: overlay.method) ?? 0) + 1) % all.count]
            say("heatmap method \(overlay.method.rawValue)")
            return redraw
        case .cycleTargetClass:
            let count = max(1, targetClassOrder.count)
            overlay.targetRank = (overlay.targetRank + 1) % count
            say("target class \(overlayTarget ?? "–")" + (overlay.targetRank == 0 && !session.blinding ? " (predicted)" : ""))
            return redraw
        case .opacityUp, .opacityDown:
            let delta = action == .opacityUp ? Self.opacityStep : -Self.opacityStep
            let next = overlay.opacityPercent + delta
            guard Self.opacityRange.contains(next) else {
                say("opacity is already \(overlay.opacityPercent)%")
                return .panel
            }
            overlay.opacityPercent = next
            say("overlay opacity \(next)%")
            return redraw
        default:
            return .none
        }
    }

    /// "gradcam covid 50%".
    public var overlayDescription: String {
        "\(overlay.method.rawValue) \(overlayTarget ?? "–") \(overlay.opacityPercent)%"
    }
}
