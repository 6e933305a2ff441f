import Foundation
import PleuraCore
import PleuraRender

/// The screen shell every mode runs on: the session's clip queue (opened lazily, sampled,
/// blind-named), the frame player (step, jump, play, loop), the overlay (background model load,
/// prediction and heatmap caches, raw ↔ overlay), the message line, and the bindings the status
/// line and help are built from. A ``ScreenMode`` adds its own state, panel and actions.
///
/// No terminal here: ``ShellScreen`` draws it and ``ShellApp`` feeds it keys; tests drive it
/// directly.
///
/// ```swift
/// let shell = Shell(session: s, keymap: k, media: files, mode: LabelMode(backend: store), openClip: open)
/// try shell.start()
/// try shell.perform(.nextFrame)       // the shell moves; the mode reloads the item's labels
/// try shell.perform(.toggleALines)    // the mode commits, reads back, says "saved: …"
/// ```
public final class Shell {
    /// A clip of the session and what is known about it.
    public struct Clip {
        public var url: URL
        /// The name shown on screen (sanitised; "clip 3 of 12" under blinding).
        public var displayName: String
        var reader: ClipReader?
        /// Sampled frame indexes (the frame-level items of this clip).
        public var sampledFrames: [Int] = []
        /// Opening it failed (reported once; navigation skips it).
        var failed = false
        /// The frame shown when the user left this clip (`p` / `n` come back to it).
        var lastFrame: Int?
        public var isOpen: Bool { reader != nil }
        public var sha256: String? { reader?.sha256 }
    }

    public let session: Session
    public let keymap: Keymap
    public let mode: ScreenMode
    private let openClip: (URL) throws -> ClipReader

    public private(set) var clips: [Clip]
    public private(set) var clipIndex = 0
    /// The frame on screen (during playback it may lie between sampled frames).
    public private(set) var frame = 0
    /// The last thing that happened, for the message line.
    public private(set) var message: (text: String, isWarning: Bool) = ("", false)
    private var playback: (startTime: Double, startFrame: Int)?
    /// Playback starts again at frame 0 after the last frame instead of stopping (rate mode's
    /// clip items loop).
    public var loopsPlayback = false

    // Overlay state (see ShellOverlay.swift).
    let loadExplainer: (() throws -> FrameExplainer)?
    var explainer: FrameExplainer?
    var pendingModel: BackgroundJob<FrameExplainer>?
    public internal(set) var modelStatus: ModelStatus = .notLoaded
    public internal(set) var overlay: Overlay
    var predictionCache: [String: [HeadPrediction]] = [:]
    var heatmapCache: [String: Heatmap] = [:]
    var heatmapCacheOrder: [String] = []
    /// Why the model failed on the frame on screen, if it did.
    public internal(set) var frameModelError: String?

    /// `loadExplainer` is called at most once, lazily (idle time or the first overlay key), so
    /// start-up never waits for libtorch; nil means no model can be used. `media` is in the order
    /// the session (or the mode) wants it.
    public init(session: Session, keymap: Keymap, media: [URL], mode: ScreenMode,
                loadExplainer: (() throws -> FrameExplainer)? = nil,
                openClip: @escaping (URL) throws -> ClipReader) {
        self.session = session
        self.keymap = keymap
        self.mode = mode
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
    /// The reader of an opened clip (modes read frames of other items, e.g. to precompute maps).
    public func reader(ofClip index: Int) -> ClipReader? { clips[index].reader }
    public var frameCount: Int { reader?.frameCount ?? 0 }
    public var isPlaying: Bool { playback != nil }
    public var framesPerSecond: Double { reader?.framesPerSecond ?? 0 }
    /// Whether the frame on screen is one of the session's sampled frames.
    public var frameIsSampled: Bool { clip.sampledFrames.contains(frame) }
    /// "sampled frames" when the session samples, else "frames" (what 10-frame steps count).
    public var framesWord: String { session.sampling == .everyFrame ? "frames" : "sampled frames" }

    public func currentImage() throws -> PixelImage? {
        guard let reader else { return nil }
        return try reader.frame(frame)
    }

    // MARK: bindings

    /// Every binding in the active mode: the shell's common ones (as the mode overrides them)
    /// followed by the mode's own, in status-line order.
    public func bindings() -> [Binding] {
        let overrides = mode.commonOverrides(self)
        var out: [Binding] = []
        for b in commonBindings() {
            if let o = overrides.first(where: { $0.action == b.action }) { out.append(o) } else { out.append(b) }
        }
        let own = mode.bindings(self)
        // Navigation first, then the mode's actions, then overlay, help, quit.
        let tail: Set<Action> = [.toggleOverlay, .cycleHeatmapMethod, .cycleTargetClass, .opacityUp, .opacityDown, .help, .quit]
        return out.filter { !tail.contains($0.action) } + own + out.filter { tail.contains($0.action) }
    }

    /// The binding of an action in the active mode, if it has one.
    public func binding(for action: Action) -> Binding? { bindings().first { $0.action == action } }

    /// The common actions the shell performs itself.
    func commonBindings() -> [Binding] {
        var b: [Binding] = [
            Binding(.nextItem, "clip", "next clip (back where you left it)", onStatusLine: true),
            Binding(.previousItem, "prev clip", "previous clip (back where you left it)"),
            Binding(.playPause, "play", "play / pause at the clip's frame rate (on the last frame: from frame 0)", onStatusLine: true,
                    disabled: isOpenStill ? "a still image has nothing to play" : nil),
        ]
        let modelOff: String? = {
            if case .unavailable(let why) = modelStatus { return "overlays are off: " + why }
            return nil
        }()
        b += [
            Binding(.toggleOverlay, "overlay", onStatusLine: true, disabled: modelOff),
            Binding(.cycleHeatmapMethod, "method", disabled: modelOff),
            Binding(.cycleTargetClass, "target", disabled: modelOff),
            Binding(.opacityUp, "opacity+", disabled: modelOff),
            Binding(.opacityDown, "opacity-", disabled: modelOff),
            Binding(.help, "help", onStatusLine: true),
            Binding(.quit, "quit", onStatusLine: true),
        ]
        return b
    }

    /// Frame navigation the shell performs for modes that bind it (label mode does).
    public func frameNavigationBindings() -> [Binding] {
        let w = framesWord
        return [
            Binding(.nextFrame, "next", "next \(w == "frames" ? "frame" : "sampled frame")", onStatusLine: true),
            Binding(.previousFrame, "prev", "previous \(w == "frames" ? "frame" : "sampled frame")", onStatusLine: true),
            Binding(.forward10, "+10", "forward 10 \(w)"),
            Binding(.back10, "-10", "back 10 \(w)"),
            Binding(.firstFrame, "first", "first \(w == "frames" ? "frame" : "sampled frame")"),
            Binding(.lastFrame, "last", "last \(w == "frames" ? "frame" : "sampled frame")"),
            Binding(.goToFrame, "go to", "go to frame N"),
        ]
    }

    private var isOpenStill: Bool { reader != nil && frameCount <= 1 }

    // MARK: starting

    /// Opens the first clip and shows its first item. The other clips are opened one at a time
    /// while the user is idle (``openNextUnopenedClip()``), so start-up does not wait for all of
    /// them (a clip seen for the first time is indexed with one full decode).
    public func start(clip first: Int = 0, frame startFrame: Int? = nil) throws {
        guard !clips.isEmpty else { throw PleuraError(file: session.file.path, "the session has no media") }
        try open(first)
        clipIndex = first
        frame = startFrame ?? clips[first].sampledFrames.first ?? 0
        frame = max(0, min(frame, frameCount - 1))
        try mode.itemChanged(self)
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

    /// Opens clip `index` if it is not open yet.
    public func open(_ index: Int) throws {
        guard clips[index].reader == nil else { return }
        let reader = try openClip(clips[index].url)
        clips[index].reader = reader
        clips[index].sampledFrames = session.sampling.frames(count: reader.frameCount)
        try mode.clipOpened(index, self)
    }

    /// Shows a frame of a clip (opening it), and lets the mode reload the item.
    public func show(clip index: Int, frame newFrame: Int) throws {
        try open(index)
        if index != clipIndex { clips[clipIndex].lastFrame = frame }
        clipIndex = index
        frame = max(0, min(newFrame, frameCount - 1))
        try mode.itemChanged(self)
    }

    /// Sets the message line.
    public func say(_ text: String, warning: Bool = false) { message = (text, warning) }

    // MARK: actions

    /// Does what an action means: the mode's own actions (and common ones it overrides) go to
    /// the mode, the rest the shell performs. The screen redraws per the returned effect.
    @discardableResult
    public func perform(_ action: Action, now: Double = Measure.now()) throws -> Effect {
        if playback != nil, action != .playPause, action != .quit, action != .help, !loopsPlayback {
            stopPlayback()
        }
        if let b = binding(for: action), let why = b.disabled {
            say(why, warning: true)
            return .panel
        }
        let overridden = mode.commonOverrides(self).contains { $0.action == action }
        if overridden || !Self.shellActions.contains(action) {
            guard overridden || mode.bindings(self).contains(where: { $0.action == action }) else {
                say("\(action.rawValue) does nothing in \(mode.kind.rawValue) mode", warning: true)
                return .panel
            }
            return try mode.perform(action, self)
        }
        switch action {
        case .nextFrame: return try step(by: 1)
        case .previousFrame: return try step(by: -1)
        case .forward10: return try step(by: 10)
        case .back10: return try step(by: -10)
        case .firstFrame: return try jump(toSampledIndex: 0)
        case .lastFrame: return try jump(toSampledIndex: clip.sampledFrames.count - 1)
        case .goToFrame: return .prompt(.goToFrame)
        case .playPause: return playPause(now: now)
        case .nextItem: return try moveClip(by: 1)
        case .previousItem: return try moveClip(by: -1)
        case .toggleOverlay, .cycleHeatmapMethod, .cycleTargetClass, .opacityUp, .opacityDown:
            return overlayAction(action)
        case .help: return .help
        case .quit: return .quit
        default:
            say("\(action.rawValue) does nothing in \(mode.kind.rawValue) mode", warning: true)
            return .panel
        }
    }

    /// The actions the shell performs (unless the mode overrides them).
    static let shellActions: Set<Action> = [.nextFrame, .previousFrame, .forward10, .back10, .firstFrame, .lastFrame, .goToFrame,
                                            .playPause, .nextItem, .previousItem, .toggleOverlay, .cycleHeatmapMethod,
                                            .cycleTargetClass, .opacityUp, .opacityDown, .help, .quit]

    /// Answers a prompt; nil text means cancelled.
    @discardableResult
    public func answer(_ prompt: Prompt, with text: String?) throws -> Effect {
        guard prompt == .goToFrame else { return try mode.answer(prompt, text, self) }
        guard let text else { say("cancelled"); return .panel }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let n = Int(trimmed), n >= 0, n < frameCount else {
            say("'\(SafeText.sanitize(trimmed))' is not a frame of this clip (0–\(frameCount - 1))", warning: true)
            return .panel
        }
        frame = n
        try mode.itemChanged(self)
        say(frameIsSampled ? "frame \(n)" : "frame \(n) is not one of the session's sampled frames")
        return .frame
    }

    /// What a prompt starts with.
    public func promptDefault(_ prompt: Prompt) -> String { prompt == .goToFrame ? "" : mode.promptDefault(prompt) }

    // MARK: player

    private func playPause(now: Double) -> Effect {
        if playback != nil { stopPlayback(); say("paused on frame \(frame)"); return .frame }
        guard frameCount > 1 else { say("a still image has nothing to play", warning: true); return .panel }
        var from = ""
        if frame >= frameCount - 1 { frame = 0; from = " from frame 0" }
        playback = (now, frame)
        say(String(format: "playing%@ at %.3g fps (frames are dropped to keep time; %@ pauses)", from, framesPerSecond, keymap.label(for: .playPause)))
        return .frame
    }

    /// Starts playback (rate mode's clip items start playing when shown).
    public func startPlayback(now: Double = Measure.now()) {
        guard frameCount > 1, playback == nil else { return }
        playback = (now, frame)
    }

    /// Advances playback; true when another frame must be shown.
    public func tick(now: Double) -> Bool {
        guard let playback, framesPerSecond > 0 else { return false }
        var target = playback.startFrame + max(0, Int((now - playback.startTime) * framesPerSecond))
        if target >= frameCount - 1 && !loopsPlayback {
            frame = frameCount - 1
            stopPlayback()
            say("end of clip: frame \(frame) (\(keymap.label(for: .playPause)) plays it again from frame 0)")
            return true
        }
        if loopsPlayback && target >= frameCount {
            // Start the next loop from its own time origin, so the clip keeps its pace.
            let loops = target / frameCount
            self.playback = (playback.startTime + Double(loops * frameCount - playback.startFrame) / framesPerSecond, 0)
            target %= frameCount
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

    /// Stops playback, landing on a sampled frame so the mode's keys apply to an item of the session.
    public func stopPlayback() {
        guard playback != nil else { return }
        playback = nil
        if let snapped = clip.sampledFrames.last(where: { $0 <= frame }) { frame = snapped }
        try? mode.itemChanged(self)
    }

    /// Decodes the next sampled frame ahead of the key that will ask for it (the reader caches
    /// it), and with a model loaded runs it on that frame (predictions, the overlay's map), so
    /// stepping forward costs only scaling, compositing and encoding. Called while the user is idle.
    public func prefetchNextFrame() {
        guard playback == nil, let reader else { return }
        let frames = clip.sampledFrames
        guard let next = frames.first(where: { $0 > frame }) else { return }
        _ = try? reader.frame(next)
        if mode.usesShellOverlay { prepareModelOutputs(forFrame: next) }
    }

    // MARK: navigation

    private var sampledPosition: Int {
        clip.sampledFrames.lastIndex(where: { $0 <= frame }) ?? 0
    }

    private func step(by delta: Int) throws -> Effect {
        let frames = clip.sampledFrames
        guard !frames.isEmpty else { return .none }
        var position = sampledPosition
        if !frameIsSampled && delta < 0 { position += 1 }   // between samples: -1 goes to the one before
        if let filter = mode.skipFilterName {
            var moved = 0
            var p = position
            while true {
                p += delta > 0 ? 1 : -1
                guard p >= 0, p < frames.count else {
                    say(delta > 0 ? "no \(filter) frame after this one in this clip (\(keymap.label(for: .nextItem)): next clip)"
                                  : "no \(filter) frame before this one in this clip", warning: true)
                    return .panel
                }
                if !mode.skipsFrame(self, clip: clipIndex, frame: frames[p]) { moved += 1; if moved == abs(delta) { break } }
            }
            position = p
        } else {
            let target = max(0, min(frames.count - 1, position + delta))
            if target == position && frameIsSampled {
                say(delta > 0 ? "last \(framesWord == "frames" ? "frame" : "sampled frame") of this clip (\(keymap.label(for: .nextItem)): next clip)"
                              : "first \(framesWord == "frames" ? "frame" : "sampled frame") of this clip")
                return .panel
            }
            position = target
        }
        let moved = abs(frames.firstIndex(of: frames[position])! - sampledPosition)
        frame = frames[position]
        try mode.itemChanged(self)
        say(abs(delta) > 1 ? "\(delta > 0 ? "forward" : "back") \(moved) \(framesWord): frame \(frame)" : "")
        return .frame
    }

    private func jump(toSampledIndex index: Int) throws -> Effect {
        let frames = clip.sampledFrames
        guard !frames.isEmpty else { return .none }
        frame = frames[max(0, min(index, frames.count - 1))]
        try mode.itemChanged(self)
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
            if mode.skipFilterName == nil || c.sampledFrames.contains(where: { !mode.skipsFrame(self, clip: index, frame: $0) }) { break }
        }
        let c = clips[index]
        var target: Int
        if let back = c.lastFrame { target = back }
        else if mode.skipFilterName != nil { target = c.sampledFrames.first { !mode.skipsFrame(self, clip: index, frame: $0) } ?? 0 }
        else { target = c.sampledFrames.first ?? 0 }
        if mode.skipFilterName != nil, mode.skipsFrame(self, clip: index, frame: target) {
            target = c.sampledFrames.first { !mode.skipsFrame(self, clip: index, frame: $0) } ?? target
        }
        try show(clip: index, frame: target)
        say("clip \(index + 1) of \(clips.count)" + (c.lastFrame != nil ? ", back on frame \(frame) where you left it" : ""))
        return .frame
    }
}
