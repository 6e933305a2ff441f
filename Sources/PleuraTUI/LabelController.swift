import Foundation
import PleuraCore
import PleuraRender

/// The label mode's state and rules, without any terminal: which clip and frame are shown, what
/// each ``Action`` does to the store, what the side panel says. ``LabelScreen`` draws it and
/// ``LabelApp`` feeds it keys; tests drive it directly.
///
/// Every change goes to the ``LabelBackend`` first and is read back from it, so what the panel
/// shows is always what is durable.
public final class LabelController {
    /// A clip of the session and what is known about it.
    public struct Clip {
        public var url: URL
        /// The name shown on screen (sanitised; "clip 3 of 12" under blinding).
        public var displayName: String
        var reader: ClipReader?
        /// Sampled frame indexes (the frame-level items of this clip).
        public var sampledFrames: [Int] = []
        /// Sampled frames that carry labels by this annotator.
        var labelled: Set<Int> = []
        /// Opening it failed (reported once; navigation skips it).
        var failed = false
    }

    /// What the screen has to do after an action.
    public enum Effect: Equatable {
        case none
        /// The side panel changed.
        case panel
        /// The picture changed (and the panel with it).
        case frame
        case help
        case prompt(Prompt)
        case quit
    }

    public enum Prompt: Equatable {
        case goToFrame
        case note

        public var question: String {
            switch self {
            case .goToFrame: return "Go to frame (0-based, as in the CSV): "
            case .note: return "Note (Enter saves, Esc cancels, empty clears): "
            }
        }
    }

    public let session: Session
    public let keymap: Keymap
    private let backend: LabelBackend
    private let openClip: (URL) throws -> ClipReader

    public private(set) var clips: [Clip]
    public private(set) var clipIndex = 0
    /// The frame on screen (during playback it may lie between sampled frames).
    public private(set) var frame = 0
    /// Labels apply to the whole video instead of the frame.
    public private(set) var videoLevel = false
    public private(set) var unlabelledOnly = false
    /// Labels of the current item, as the store has them.
    public private(set) var labels = LabelSet()
    /// The last thing that happened, for the message line.
    public private(set) var message: (text: String, isWarning: Bool) = ("", false)
    private var playback: (startTime: Double, startFrame: Int)?

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
        /// Index into ``LabelController/targetClassOrder`` (0 = the predicted class), so the
        /// overlay follows "the predicted class" from frame to frame.
        public var targetRank = 0
        /// Percent, ``LabelController/opacityRange`` in steps of ``LabelController/opacityStep``.
        public var opacityPercent = 50
    }
    public static let opacityRange = 10...100
    public static let opacityStep = 10

    private let loadExplainer: (() throws -> FrameExplainer)?
    private var explainer: FrameExplainer?
    /// The background load in progress (``startModelLoadInBackground()``), if any.
    private var pendingModel: BackgroundJob<FrameExplainer>?
    public private(set) var modelStatus: ModelStatus = .notLoaded
    public private(set) var overlay: Overlay
    /// Predictions per "sha256/frame"; heatmaps per "sha256/frame/method/class" (bounded).
    private var predictionCache: [String: [HeadPrediction]] = [:]
    private var heatmapCache: [String: Heatmap] = [:]
    private var heatmapCacheOrder: [String] = []
    private static let heatmapCacheLimit = 64
    /// Why the model failed on the frame on screen, if it did.
    public private(set) var frameModelError: String?

    /// `loadExplainer` is called at most once, lazily (idle time or the first overlay key), so
    /// start-up never waits for libtorch; nil means no model can be used.
    public init(session: Session, keymap: Keymap, media: [URL], backend: LabelBackend,
                loadExplainer: (() throws -> FrameExplainer)? = nil,
                openClip: @escaping (URL) throws -> ClipReader) {
        self.session = session
        self.keymap = keymap
        self.backend = backend
        self.openClip = openClip
        self.loadExplainer = loadExplainer
        self.overlay = Overlay(method: session.model?.heatmap ?? .gradcam)
        if loadExplainer == nil { modelStatus = .unavailable("no model in this setup") }
        self.clips = media.enumerated().map { index, url in
            Clip(url: url, displayName: session.blinding ? "clip \(index + 1) of \(media.count)" : SafeText.sanitize(url.lastPathComponent))
        }
    }

    // MARK: reading state

    public var clip: Clip { clips[clipIndex] }
    var reader: ClipReader? { clips[clipIndex].reader }
    public var frameCount: Int { reader?.frameCount ?? 0 }
    public var isPlaying: Bool { playback != nil }
    public var framesPerSecond: Double { reader?.framesPerSecond ?? 0 }

    /// The item labels apply to now.
    public var item: ItemRef? {
        guard let reader else { return nil }
        return ItemRef(mediaSHA256: reader.sha256, frame: videoLevel ? nil : frame)
    }

    /// (labelled, total) frame-level items over the clips opened so far, and how many clips are
    /// not opened yet (their frames are not counted).
    public var progress: (labelled: Int, total: Int, unopenedClips: Int) {
        var labelled = 0, total = 0, unopened = 0
        for c in clips {
            if c.reader == nil { if !c.failed { unopened += 1 }; continue }
            total += c.sampledFrames.count
            labelled += c.labelled.count
        }
        return (labelled, total, unopened)
    }

    /// Whether the frame on screen is one of the session's sampled frames.
    public var frameIsSampled: Bool { clip.sampledFrames.contains(frame) }

    public func currentImage() throws -> PixelImage? {
        guard let reader else { return nil }
        return try reader.frame(frame)
    }

    // MARK: starting

    /// Opens the first clip and shows its first item. The other clips are opened one at a time
    /// while the user is idle (``openNextUnopenedClip()``), so start-up does not wait for all of
    /// them (a clip seen for the first time is indexed with one full decode).
    public func start() throws {
        guard !clips.isEmpty else { throw PleuraError(file: session.file.path, "the session has no media") }
        try show(clip: 0, frame: 0)
        if let first = clips[0].sampledFrames.first { frame = first; try reloadLabels() }
        say("\(clips.count) clip\(clips.count == 1 ? "" : "s"); press \(keymap.label(for: .help)) for all keys")
    }

    /// Opens one clip not opened yet (for progress totals); false when all are open. A clip that
    /// cannot be opened is reported on the message line and skipped.
    @discardableResult
    public func openNextUnopenedClip() -> Bool {
        guard let index = clips.indices.first(where: { clips[$0].reader == nil && !clips[$0].failed }) else { return false }
        do { try open(index) } catch {
            clips[index].failed = true
            say("cannot open \(clips[index].displayName): " + ((error as? PleuraError)?.reason ?? "\(error)"), warning: true)
        }
        return true
    }

    private func open(_ index: Int) throws {
        guard clips[index].reader == nil else { return }
        let reader = try openClip(clips[index].url)
        clips[index].reader = reader
        clips[index].sampledFrames = session.sampling.frames(count: reader.frameCount)
        let sampled = Set(clips[index].sampledFrames)
        clips[index].labelled = try backend.labelledFrames(ofMedia: reader.sha256).intersection(sampled)
    }

    private func show(clip index: Int, frame newFrame: Int) throws {
        try open(index)
        clipIndex = index
        frame = max(0, min(newFrame, frameCount - 1))
        try reloadLabels()
    }

    private func reloadLabels() throws {
        guard let item else { labels = LabelSet(); return }
        labels = try backend.labels(of: item)
    }

    private func say(_ text: String, warning: Bool = false) { message = (text, warning) }
    func setMessageInternal(_ text: String, warning: Bool) { say(text, warning: warning) }

    // MARK: actions

    /// Does what an action means in label mode; the screen redraws per the returned effect.
    @discardableResult
    public func perform(_ action: Action, now: Double = Measure.now()) throws -> Effect {
        if playback != nil, action != .playPause, action != .quit, action != .help {
            stopPlayback()
        }
        switch action {
        case .nextFrame: return step(by: 1)
        case .previousFrame: return step(by: -1)
        case .forward10: return step(by: 10)
        case .back10: return step(by: -10)
        case .firstFrame: return try jump(toSampledIndex: 0)
        case .lastFrame: return try jump(toSampledIndex: clip.sampledFrames.count - 1)
        case .goToFrame: return .prompt(.goToFrame)
        case .playPause:
            if playback != nil { stopPlayback(); say("paused on frame \(frame)"); return .frame }
            guard frameCount > 1 else { say("a still image has nothing to play", warning: true); return .panel }
            if frame >= frameCount - 1 { frame = 0 }
            playback = (now, frame)
            say(String(format: "playing at %.3g fps (frames are dropped to keep time)", framesPerSecond))
            return .frame
        case .nextItem: return try moveClip(by: 1)
        case .previousItem: return try moveClip(by: -1)
        case .toggleALines, .toggleB1Lines, .toggleB2Lines, .toggleConsolidation:
            let finding = action.toggledFinding!
            let next: String = labels[finding] == true ? "0" : "1"
            return try change([LabelChange(LabelField(finding), next)],
                              saying: "\(finding.displayName) \(next == "1" ? "present" : "absent")")
        case .severity0, .severity1, .severity2, .severity3:
            let severity = action.severity!
            if labels.severity == severity { say("severity is already \(severity.rawValue)"); return .panel }
            return try change([LabelChange(.severity, String(severity.rawValue))], saying: "severity \(severity.rawValue)")
        case .poorQuality:
            let next: Quality = labels.quality == .poor ? .ok : .poor
            return try change([LabelChange(.quality, next.rawValue)], saying: "quality \(next.rawValue)")
        case .note: 
            guard session.schema.note else { say("notes are not part of this session's schema", warning: true); return .panel }
            return .prompt(.note)
        case .videoLevel:
            videoLevel.toggle()
            try reloadLabels()
            say(videoLevel ? "labels now apply to the whole video" : "labels now apply to frame \(frame)")
            return .panel
        case .carryForward: return try carryForward()
        case .unlabelledOnly:
            unlabelledOnly.toggle()
            if unlabelledOnly {
                say("showing unlabelled frames only")
                if clip.labelled.contains(frame) { return step(by: 1) }
            } else { say("showing all frames") }
            return .panel
        case .undo, .redo:
            let touched = try action == .undo ? backend.undo() : backend.redo()
            guard let touched else { say("nothing to \(action.rawValue)", warning: true); return .panel }
            return try land(on: touched, saying: action == .undo ? "undone" : "redone")
        case .toggleOverlay, .cycleHeatmapMethod, .cycleTargetClass, .opacityUp, .opacityDown:
            return overlayAction(action)
        case .help: return .help
        case .quit: return .quit
        }
    }

    /// Answers a prompt; nil text means cancelled.
    @discardableResult
    public func answer(_ prompt: Prompt, with text: String?) throws -> Effect {
        guard let text else { say("cancelled"); return .panel }
        switch prompt {
        case .goToFrame:
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard let n = Int(trimmed), n >= 0, n < frameCount else {
                say("'\(SafeText.sanitize(trimmed))' is not a frame of this clip (0–\(frameCount - 1))", warning: true)
                return .panel
            }
            frame = n
            try reloadLabels()
            say(frameIsSampled || videoLevel ? "frame \(n)" : "frame \(n) is not one of the session's sampled frames")
            return .frame
        case .note:
            let clean = text.trimmingCharacters(in: .whitespaces)
            if clean.unicodeScalars.contains(where: SafeText.isUnsafe) {
                say("a note cannot hold control characters", warning: true)
                return .panel
            }
            return try change([LabelChange(.note, clean.isEmpty ? nil : clean)], saying: clean.isEmpty ? "note cleared" : "note saved")
        }
    }

    /// Advances playback; true when another frame must be shown.
    public func tick(now: Double) -> Bool {
        guard let playback, framesPerSecond > 0 else { return false }
        let target = playback.startFrame + Int((now - playback.startTime) * framesPerSecond)
        if target >= frameCount - 1 {
            frame = frameCount - 1
            stopPlayback()
            say("end of clip: frame \(frame)")
            return true
        }
        guard target != frame else { return false }
        frame = target
        return true
    }

    /// Seconds until playback needs the next frame, or nil when not playing.
    public func secondsToNextFrame(now: Double) -> Double? {
        guard let playback, framesPerSecond > 0 else { return nil }
        let next = Double(frame - playback.startFrame + 1) / framesPerSecond + playback.startTime
        return max(0, next - now)
    }

    private func stopPlayback() {
        playback = nil
        // Land on a sampled frame so label keys apply to an item of the session.
        if let snapped = clip.sampledFrames.last(where: { $0 <= frame }) { frame = snapped }
        try? reloadLabels()
    }

    /// Decodes the next sampled frame ahead of the key that will ask for it (the reader caches
    /// it), and with a model loaded runs it on that frame (predictions, the overlay's map), so
    /// stepping forward costs only scaling, compositing and encoding. Called while the user is idle.
    public func prefetchNextFrame() {
        guard playback == nil, let reader else { return }
        let frames = clip.sampledFrames
        guard let next = frames.first(where: { $0 > frame }) else { return }
        _ = try? reader.frame(next)
        prepareModelOutputs(forFrame: next)
    }

    // MARK: navigation

    private var sampledPosition: Int {
        clip.sampledFrames.lastIndex(where: { $0 <= frame }) ?? 0
    }

    private func step(by delta: Int) -> Effect {
        let frames = clip.sampledFrames
        guard !frames.isEmpty else { return .none }
        var position = sampledPosition
        if !frameIsSampled && delta < 0 { position += 1 }   // between samples: -1 goes to the one before
        if unlabelledOnly {
            var moved = 0
            var p = position
            while true {
                p += delta > 0 ? 1 : -1
                guard p >= 0, p < frames.count else {
                    say(delta > 0 ? "no unlabelled frame after this one in this clip (\(keymap.label(for: .nextItem)): next clip)"
                                  : "no unlabelled frame before this one in this clip", warning: true)
                    return .panel
                }
                if !clip.labelled.contains(frames[p]) { moved += 1; if moved == abs(delta) { break } }
            }
            position = p
        } else {
            let target = max(0, min(frames.count - 1, position + delta))
            if target == position && frameIsSampled {
                say(delta > 0 ? "last frame of this clip (\(keymap.label(for: .nextItem)): next clip)" : "first frame of this clip")
                return .panel
            }
            position = target
        }
        frame = frames[position]
        try? reloadLabels()
        say("")
        return .frame
    }

    private func jump(toSampledIndex index: Int) throws -> Effect {
        let frames = clip.sampledFrames
        guard !frames.isEmpty else { return .none }
        frame = frames[max(0, min(index, frames.count - 1))]
        try reloadLabels()
        say("")
        return .frame
    }

    private func moveClip(by delta: Int) throws -> Effect {
        var index = clipIndex
        while true {
            index += delta
            guard index >= 0, index < clips.count else {
                say(delta > 0 ? "this is the last clip" : "this is the first clip", warning: true)
                return .panel
            }
            do { try open(index) } catch {
                clips[index].failed = true
                say("skipped \(clips[index].displayName): " + ((error as? PleuraError)?.reason ?? "\(error)"), warning: true)
                continue
            }
            let c = clips[index]
            if !unlabelledOnly || c.labelled.count < c.sampledFrames.count { break }
        }
        let c = clips[index]
        let first = unlabelledOnly ? (c.sampledFrames.first { !c.labelled.contains($0) } ?? 0) : (c.sampledFrames.first ?? 0)
        try show(clip: index, frame: first)
        say("clip \(index + 1) of \(clips.count)")
        return .frame
    }

    // MARK: changing labels

    private func change(_ changes: [LabelChange], saying what: String) throws -> Effect {
        guard let item else { return .none }
        if let refused = changes.first(where: { !session.schema.allows($0.field) }) {
            say("\(refused.field.rawValue) is not part of this session's schema", warning: true)
            return .panel
        }
        if !videoLevel && !frameIsSampled {
            say("frame \(frame) is not one of the session's sampled frames; step to one to label it", warning: true)
            return .panel
        }
        labels = try backend.apply(changes, to: item)
        noteLabelled(item, labels)
        say("saved: \(what) (\(videoLevel ? "whole video" : "frame \(frame)"))")
        return .panel
    }

    /// Keeps the progress counts and the unlabelled-only filter current after `item` changed to
    /// `stored` (every opened clip with that content: a session may list one file twice).
    private func noteLabelled(_ item: ItemRef, _ stored: LabelSet) {
        guard let f = item.frame else { return }
        for index in clips.indices where clips[index].reader?.sha256 == item.mediaSHA256 {
            if stored.isEmpty { clips[index].labelled.remove(f) }
            else if clips[index].sampledFrames.contains(f) { clips[index].labelled.insert(f) }
        }
    }

    private func carryForward() throws -> Effect {
        guard !videoLevel else { say("carry forward copies between frames; switch off whole-video labels first", warning: true); return .panel }
        let frames = clip.sampledFrames
        guard let position = frames.firstIndex(of: frame), position > 0, let reader else {
            say("no previous frame to carry labels from", warning: true)
            return .panel
        }
        let previous = frames[position - 1]
        let source = try backend.labels(of: ItemRef(mediaSHA256: reader.sha256, frame: previous))
        guard !source.isEmpty else { say("frame \(previous) has no labels to carry forward", warning: true); return .panel }
        let changes = Self.changes(from: labels, to: source).filter { session.schema.allows($0.field) }
        guard !changes.isEmpty else { say("frame \(frame) already has frame \(previous)'s labels"); return .panel }
        return try change(changes, saying: "labels of frame \(previous) carried forward")
    }

    /// The changes that turn `old` into `new`, field by field, in CSV column order.
    static func changes(from old: LabelSet, to new: LabelSet) -> [LabelChange] {
        var out: [LabelChange] = []
        for f in Finding.allCases where old[f] != new[f] {
            out.append(LabelChange(LabelField(f), new[f].map { $0 ? "1" : "0" }))
        }
        if old.severity != new.severity { out.append(LabelChange(.severity, new.severity.map { String($0.rawValue) })) }
        if old.quality != new.quality { out.append(LabelChange(.quality, new.quality?.rawValue)) }
        if old.note != new.note { out.append(LabelChange(.note, new.note)) }
        return out
    }

    /// After undo/redo: show the item that changed, wherever it is.
    private func land(on edit: LabelEdit, saying what: String) throws -> Effect {
        let touched = edit.item
        noteLabelled(touched, edit.labels)
        if let index = clips.firstIndex(where: { $0.reader?.sha256 == touched.mediaSHA256 }) {
            let target = touched.frame ?? frame
            let sameClip = index == clipIndex
            videoLevel = touched.frame == nil
            try show(clip: index, frame: sameClip && touched.frame == nil ? frame : target)
            say("\(what) (\(touched.frame.map { "frame \($0)" } ?? "whole video"))")
            return .frame
        }
        try reloadLabels()
        say("\(what) (in a clip outside this session)")
        return .panel
    }
}

// MARK: model: predictions and heatmap overlay

extension LabelController {
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
    public var wantsIdleModelLoad: Bool { modelStatus == .notLoaded && !session.blinding && loadExplainer != nil }

    /// The frame's predictions (computed once per frame); nil without a model, while playing,
    /// or when the model failed on this frame (``frameModelError`` says why).
    public func currentPredictions() -> [HeadPrediction]? {
        guard explainer != nil, !isPlaying else { return nil }
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
            let r = try explainer.predictionsAndTopHeatmap(of: image, method: overlay.method)
            p = r.predictions
            rememberHeatmap(r.heatmap, key: "\(key)/\(overlay.method.rawValue)/\(r.className)")
        } else {
            p = try explainer.predictions(of: image)
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
        let map = try explainer.heatmap(of: try reader.frame(f), className: target, method: overlay.method)
        rememberHeatmap(map, key: key)
        return map
    }

    /// While the user is idle: the model's work for frame `f` (the next one), so the key that
    /// shows it finds predictions and the overlay's map ready. Failures are left for that key.
    func prepareModelOutputs(forFrame f: Int) {
        guard explainer != nil, !isPlaying else { return }
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
        guard overlay.isOn, modelStatus == .loaded, !isPlaying else { return "plain" }
        return "\(overlay.method.rawValue)/\(overlayTarget ?? "-")/\(overlay.opacityPercent)"
    }

    /// What the pane shows: the frame, plus the heatmap and how to blend it when the overlay is
    /// on (not during playback: a map per frame would stall it). The pane composites after
    /// scaling. A model failure on this frame shows the plain frame and says why on the message line.
    public func displayContent() throws -> PaneContent? {
        guard let image = try currentImage() else { return nil }
        guard overlay.isOn, explainer != nil, !isPlaying, let target = overlayTarget else { return PaneContent(frame: image) }
        let map: Heatmap
        do {
            guard let m = try heatmap(atFrame: frame, target: target) else { return PaneContent(frame: image) }
            map = m
        } catch {
            let reason = SafeText.sanitize((error as? PleuraError)?.reason ?? "\(error)")
            frameModelError = reason
            setMessageInternal("no heatmap for this frame: " + reason, warning: true)
            return PaneContent(frame: image)
        }
        return PaneContent(frame: image, overlay: (map, Self.overlayStyle(method: overlay.method, opacityPercent: overlay.opacityPercent)))
    }

    /// ``displayContent()`` composited at the frame's own size.
    public func displayImage() throws -> PixelImage? { try displayContent()?.composited }

    /// Keeps a map for "sha256/frame/method/class" (the last ``heatmapCacheLimit`` maps).
    private func rememberHeatmap(_ map: Heatmap, key: String) {
        if heatmapCache.updateValue(map, forKey: key) == nil { heatmapCacheOrder.append(key) }
        if heatmapCacheOrder.count > Self.heatmapCacheLimit { heatmapCache[heatmapCacheOrder.removeFirst()] = nil }
    }

    fileprivate func overlayAction(_ action: Action) -> Effect {
        loadModelIfNeeded()
        if case .unavailable(let why) = modelStatus {
            setMessageInternal("overlays are off: " + why, warning: true)
            return .panel
        }
        let redraw: Effect = overlay.isOn ? .frame : .panel
        switch action {
        case .toggleOverlay:
            overlay.isOn.toggle()
            setMessageInternal(overlay.isOn ? "overlay on: \(overlayDescription)" : "overlay off", warning: false)
            return .frame
        case .cycleHeatmapMethod:
            let all = HeatmapMethod.allCases
            overlay.method = all[((all.firstIndex(of: overlay.method) ?? 0) + 1) % all.count]
            setMessageInternal("heatmap method \(overlay.method.rawValue)", warning: false)
            return redraw
        case .cycleTargetClass:
            let count = max(1, targetClassOrder.count)
            overlay.targetRank = (overlay.targetRank + 1) % count
            setMessageInternal("target class \(overlayTarget ?? "–")" + (overlay.targetRank == 0 && !session.blinding ? " (predicted)" : ""), warning: false)
            return redraw
        case .opacityUp, .opacityDown:
            let delta = action == .opacityUp ? Self.opacityStep : -Self.opacityStep
            let next = overlay.opacityPercent + delta
            guard Self.opacityRange.contains(next) else {
                setMessageInternal("opacity is already \(overlay.opacityPercent)%", warning: false)
                return .panel
            }
            overlay.opacityPercent = next
            setMessageInternal("overlay opacity \(next)%", warning: false)
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
