import Foundation
import PleuraCore
import PleuraRender
import PleuraStore

/// Rate mode: an expert panel rates how helpful model heatmaps are (Born et al.'s study, done in
/// the terminal), on the shared ``Shell``.
///
/// The rater sees items in an order shuffled from the session's seed and the rater's name
/// (reproducible, balanced over the model's classes), each a frame or a looping clip with its
/// map (or two maps in random slots A | B for a paired trial), and answers on a scale that is
/// always on screen with its anchor words: one key per point, or arrows + Enter. Every answer is
/// committed through the ``RatingBackend`` and read back before the panel shows it; a revision
/// is a new event; the seconds spent go with each write; the rater resumes at the first item not
/// finished. Blinded sessions (the default) show "item 7 of 40", never file names, the map's
/// class, probabilities or anyone's labels.
public final class RateMode: ScreenMode {
    public let kind = Session.Mode.rate
    public let title = "rate mode"

    /// One item of this rater's queue.
    public struct Item: Equatable, Sendable {
        /// Index into the shell's clips.
        public var clip: Int
        /// The rated frame; nil for a whole clip (it loops).
        public var frame: Int?
        /// Indexes into ``RateSettings/variants``, in slot order (A first) for a paired trial.
        public var variants: [Int]
        /// The trial id the store keeps the answers under.
        public var trialID: String
        /// The class the order is balanced over: the reference's class for a `reference:NAME`
        /// target (Born et al. balanced by the true class), else the first model's top class.
        public var balanceClass: String
        /// For a `reference:NAME` target: NAME's label of the item in canonical text (e.g. severity
        /// "2"), which picks each model's class; nil otherwise.
        public var referenceLabel: String? = nil
    }

    /// What the pane shows for one map of the current item: its provenance and its per-frame maps.
    struct ResolvedMap {
        var rated: RatedMap
        var maps: [Int: Heatmap]
        /// The class the map explains (shown only unblinded).
        var className: String
    }

    enum Question: Equatable {
        case rating(map: Int), highlighted(map: Int), better, classGuess, visible, comment
    }

    public let settings: RateSettings
    public let items: [Item]
    /// Items left out because the reference annotator has not labelled them (reference targets).
    public private(set) var unreferenced = 0
    let backend: RatingBackend
    /// Models by ``RateSettings/models`` path.
    let models: [String: RatingModel]
    let blinded: Bool
    let scale: RatingScale

    public private(set) var position = 0
    private var recorded: [String: RecordedTrial] = [:]
    /// The answers of the item on screen as stored (what the panel shows).
    public private(set) var answers = TrialAnswers(maps: [])
    var resolved: [String: [ResolvedMap]] = [:]
    var focus = 0
    var cursor = 0
    /// When the item was shown or last written (seconds spent go with the next write).
    private var mark = Measure.now()
    /// Raw frame instead of the map (o flips).
    public private(set) var showsRaw = false

    /// Builds the rater's queue. `clips` are the shell's clips with their opened readers; `rater`
    /// and `seed` fix the order and the paired slots.
    public init(settings: RateSettings, session: Session, clips: [(sha256: String, reader: ClipReader)],
                backend: RatingBackend, models: [String: RatingModel], rater: String) throws {
        self.settings = settings
        self.backend = backend
        self.models = models
        self.blinded = session.blinding
        self.scale = settings.scale
        let seed: UInt64 = { if case .shuffled(let s) = session.order { return s }; return 0 }()
        let variants = settings.variants
        guard let firstModel = models[variants[0].model] else {
            throw PleuraError(file: session.file.path, "no model loaded for \(SafeText.sanitize(variants[0].model))")
        }
        let reference = try Self.referenceField(settings, models: models, file: session.file.path)
        var planned: [Item] = []
        var unreferenced = 0
        for (index, clip) in clips.enumerated() {
            let frames: [Int?] = settings.unit == .clip ? [nil] : session.sampling.frames(count: clip.reader.frameCount).map { Optional($0) }
            let referenceLabels = try reference.map { r in try backend.labels(of: r.annotator, mediaSHA256: clip.sha256) ?? [:] }
            for frame in frames {
                var referenceLabel: String? = nil
                let balance: String
                if let reference, let referenceLabels {
                    guard let label = Self.referenceLabel(referenceLabels, field: reference.field, frame: frame) else {
                        unreferenced += 1
                        continue
                    }
                    for path in Set(settings.models) where models[path]?.className(forLabel: label) == nil {
                        throw PleuraError(file: session.file.path, "rate.target reference:\(SafeText.sanitize(reference.annotator)): no class of model "
                                          + "\(Self.shortModel(path)) stands for its \(reference.field.rawValue) label '\(SafeText.sanitize(label))'")
                    }
                    referenceLabel = label
                    balance = label
                } else {
                    let shown = frame ?? clip.reader.frameCount / 2
                    let probs = try firstModel.probabilities(of: clip.reader.frame(shown), in: clip.reader)
                    balance = probs.indices.max { probs[$0] < probs[$1] }.map { firstModel.classes[$0] } ?? "-"
                }
                let base = "\(session.name)/\(clip.sha256)@\(frame ?? -1)"
                if settings.paired {
                    // Slots drawn per rater and item: which variant is A (left) differs between raters.
                    var rng = SplitMix64(seed: seed ^ Self.hash(rater) ^ Self.hash(base))
                    let swap = rng.next() & 1 == 1
                    planned.append(Item(clip: index, frame: frame, variants: swap ? [1, 0] : [0, 1], trialID: base + "/pair",
                                        balanceClass: balance, referenceLabel: referenceLabel))
                } else {
                    for v in variants.indices {
                        let id = variants.count == 1 ? base : base + "/\(Self.shortModel(variants[v].model))/\(variants[v].method.rawValue)"
                        planned.append(Item(clip: index, frame: frame, variants: [v], trialID: id, balanceClass: balance, referenceLabel: referenceLabel))
                    }
                }
            }
        }
        if let reference, planned.isEmpty {
            throw PleuraError(file: session.file.path, "rate.target reference:\(SafeText.sanitize(reference.annotator)): "
                              + "no item has a \(reference.field.rawValue) label by that annotator in the store "
                              + "(import theirs with `pleura import … --as \(SafeText.sanitize(reference.annotator))`, or check the name)")
        }
        self.unreferenced = unreferenced
        items = Self.order(planned, seed: seed, rater: rater)
        recorded = try backend.recordedTrials()
    }

    public var item: Item { items[position] }
    public var finishedCount: Int { items.filter { recorded[$0.trialID]?.finished == true }.count }

    /// Shows the first item this rater has not finished (or the first, when all are).
    public func start(_ shell: Shell) throws {
        guard !items.isEmpty else { throw PleuraError(file: shell.session.file.path, "the session has no items to rate") }
        position = items.firstIndex { recorded[$0.trialID]?.finished != true } ?? 0
        try shell.start(clip: items[position].clip, frame: items[position].frame ?? 0)
        try enter(shell)
        let done = finishedCount
        shell.say(done == 0 ? "\(items.count) items to rate; \(shell.keymap.label(for: .help)) lists the keys"
                  : done == items.count ? "all \(items.count) items are rated; changes are kept as revisions"
                  : "welcome back: \(done) of \(items.count) rated, continuing with item \(position + 1)")
    }

    /// Sets up the item at ``position`` on the shell (already showing its clip).
    private func enter(_ shell: Shell) throws {
        let it = item
        // A frame's maps take a pass or two: ready at once. A clip's take one per frame: what is not
        // ready in a moment is prepared while idle, the clip shown raw meanwhile (see ``idle(_:)``).
        let ready = try prepare(it, shell, until: it.frame == nil ? Measure.now() + 0.2 : .infinity) != nil
        let count = it.variants.count
        answers = recorded[it.trialID]?.answers ?? TrialAnswers(maps: (0..<count).map { _ in MapAnswers(rating: nil) })
        if answers.maps.count != count { answers.maps = (0..<count).map { _ in MapAnswers(rating: nil) } }
        focus = 0
        cursorToAnswer()
        mark = Measure.now()
        shell.loopsPlayback = it.frame == nil
        if it.frame == nil && ready { shell.startPlayback() }
    }

    /// Refuses an answer while the item's maps are being prepared (nothing is rated unseen).
    private func requireMaps(_ shell: Shell) -> Bool {
        if let why = unprepared[item.trialID] {
            shell.say("this item's maps could not be made (\(why)): nothing to rate, \(shell.keymap.label(for: .nextItem)): next item", warning: true)
            return false
        }
        guard let f = preparedFraction(item) else { return true }
        shell.say("the maps of this clip are being prepared (\(Int(f * 100)) %): rate when they show", warning: true)
        return false
    }

    private func move(to newPosition: Int, _ shell: Shell) throws -> Effect {
        guard newPosition >= 0, newPosition < items.count else {
            shell.say(newPosition < 0 ? "this is the first item" : "this is the last item (\(finishedCount) of \(items.count) rated)", warning: newPosition < 0)
            return .panel
        }
        shell.stopPlayback()
        position = newPosition
        try shell.show(clip: item.clip, frame: item.frame ?? 0)
        try enter(shell)
        shell.say("item \(position + 1) of \(items.count)" + (recorded[item.trialID]?.finished == true ? " (rated: a change is a revision)" : ""))
        return .frame
    }

    /// Map preparation state (see RateMode+Maps.swift).
    var preparing: [String: Preparation] = [:]
    /// Items whose maps could not be made, with why (they show the raw frame and take no answer).
    var unprepared: [String: String] = [:]

    /// The trial of the item on screen, as the store records it.
    public func trial(_ shell: Shell) throws -> RatingTrial {
        let maps = try resolve(item, shell)
        return RatingTrial(id: item.trialID, item: ItemRef(mediaSHA256: shell.clips[item.clip].sha256 ?? "", frame: item.frame),
                           scale: scale, maps: maps.map(\.rated))
    }

    public func paneContent(_ shell: Shell) throws -> (key: String, content: PaneContent?)? {
        let ready = preparedFraction(item) == nil
        let key = "rate/\(position)/\(shell.frame)/\(showsRaw)/\(ready)"
        guard let image = try shell.currentImage() else { return (key, nil) }
        let maps = resolved[item.trialID] ?? []
        guard ready, !maps.isEmpty else { return (key, PaneContent(frame: image)) }
        let style = OverlayStyle(colormap: Colormap(rawValue: settings.colormap) ?? .jet, opacity: Float(settings.opacityPercent) / 100,
                                 threshold: settings.threshold > 0 ? Float(settings.threshold) : nil)
        let frame = item.frame ?? shell.frame
        if maps.count == 1 {
            guard !showsRaw, let map = maps[0].maps[frame] else { return (key, PaneContent(frame: image)) }
            return (key, PaneContent(frame: image, overlay: (map, style)))
        }
        // Paired: slot A on the left, B on the right, a dark gap between.
        let sides = maps.map { m -> PixelImage in
            guard !showsRaw, let map = m.maps[frame] else { return image.toRGB() }
            return Compositor.overlay(image, heatmap: map, style: style)
        }
        return (key, PaneContent(frame: Self.sideBySide(sides, gap: max(4, image.width / 40))))
    }

    static func sideBySide(_ images: [PixelImage], gap: Int) -> PixelImage {
        let h = images.map(\.height).max() ?? 0
        let w = images.map(\.width).reduce(0, +) + gap * max(0, images.count - 1)
        var out = [UInt8](repeating: 0, count: w * h * 3)
        var x0 = 0
        for img in images {
            let rgb = img.toRGB()
            for y in 0..<rgb.height {
                let src = y * rgb.width * 3, dst = (y * w + x0) * 3
                out.replaceSubrange(dst..<(dst + rgb.width * 3), with: rgb.pixels[src..<(src + rgb.width * 3)])
            }
            x0 += rgb.width + gap
        }
        return PixelImage(width: w, height: h, format: .rgb24, pixels: out)
    }

    /// Idle time prepares maps a few frames at a time: the item on screen first (its clip starts
    /// looping when they are ready), then the next item, while the rater looks at this one.
    public func idle(_ shell: Shell) -> Bool {
        let deadline = Measure.now() + 0.05
        if preparedFraction(item) != nil {
            do {
                guard try prepare(item, shell, until: deadline) != nil else { return true }   // the panel shows the progress
                shell.say("maps ready")
                if item.frame == nil { shell.startPlayback() }
            } catch {
                let why = error is PleuraError ? (error as! PleuraError).reason : "\(error)"
                unprepared[item.trialID] = SafeText.sanitize(why)
                resolved[item.trialID] = []
                shell.say("this item's maps could not be made: " + SafeText.sanitize(why), warning: true)
            }
            return true
        }
        // The next item while this one is still (a looping clip keeps its frame rate).
        let next = position + 1
        if !shell.isPlaying, next < items.count, resolved[items[next].trialID] == nil {
            _ = try? prepare(items[next], shell, until: deadline)
        }
        return false
    }

    // MARK: questions

    var questions: [Question] {
        var q: [Question] = []
        let asked = Set(settings.questions)
        for m in answers.maps.indices {
            q.append(.rating(map: m))
            if asked.contains(.patternsHighlighted) { q.append(.highlighted(map: m)) }
        }
        if answers.maps.count == 2 { q.append(.better) }
        if asked.contains(.classGuess) { q.append(.classGuess) }
        if asked.contains(.patternsVisible) { q.append(.visible) }
        if asked.contains(.comment) { q.append(.comment) }
        return q
    }

    private var focused: Question { questions[min(focus, questions.count - 1)] }
    var guessClasses: [String] { models[settings.variants[0].model]?.classes ?? [] }
    static let betterChoices: [PairPreference] = [.a, .equal, .b]

    /// How many positions the focused question's cursor has.
    private var cursorCount: Int {
        switch focused {
        case .rating: return scale.points.count
        case .highlighted, .visible: return RatingPattern.allCases.count
        case .better: return 3
        case .classGuess: return max(1, guessClasses.count)
        case .comment: return 1
        }
    }

    /// Puts the cursor on the focused question's current answer (or the scale's middle).
    private func cursorToAnswer() {
        switch focused {
        case .rating(let m):
            if let r = answers.maps[m].rating, let i = scale.points.firstIndex(of: r) { cursor = i } else { cursor = scale.points.count / 2 }
        case .better: cursor = answers.better.flatMap { Self.betterChoices.firstIndex(of: $0) } ?? 1
        case .classGuess: cursor = answers.classGuess.flatMap { guessClasses.firstIndex(of: $0) } ?? 0
        default: cursor = 0
        }
    }

    // MARK: bindings and actions

    public func bindings(_ shell: Shell) -> [Binding] {
        let n = scale.points.count
        var b: [Binding] = []
        for action in [Action.ratePoint1, .ratePoint2, .ratePoint3, .ratePoint4, .ratePoint5, .ratePoint6, .ratePoint7] {
            let p = action.ratePoint!
            let value = p <= n ? scale.points[p - 1] : nil
            b.append(Binding(action, "rate", value.map { "rate \(Self.signed($0.rawValue)) \"\($0.meaning)\"" } ?? "rate (not on the \(scale.rawValue) scale)",
                             onStatusLine: p <= n, disabled: p <= n ? nil : "the \(scale.rawValue) scale has \(n) points"))
        }
        b += [
            Binding(.cursorLeft, "←", "move the cursor left on the scale or choices", onStatusLine: false),
            Binding(.cursorRight, "→", "move the cursor right on the scale or choices", onStatusLine: false),
            Binding(.choose, "choose", "commit the point or choice under the cursor (toggles a checklist item)", onStatusLine: true),
            Binding(.nextQuestion, "question", "next question", onStatusLine: questions.count > 1,
                    disabled: questions.count > 1 ? nil : "this session asks only for the rating"),
            Binding(.previousQuestion, "prev question", "previous question", disabled: questions.count > 1 ? nil : "this session asks only for the rating"),
            Binding(.comment, "comment", "write a comment on this item", onStatusLine: settings.questions.contains(.comment),
                    disabled: settings.questions.contains(.comment) ? nil : "this session asks for no comment"),
        ]
        return b
    }

    public func commonOverrides(_ shell: Shell) -> [Binding] {
        let fixed = "the session fixes the rated heatmap's settings (provenance)"
        return [
            Binding(.nextItem, "next", "next item", onStatusLine: true),
            Binding(.previousItem, "prev", "previous item"),
            Binding(.playPause, "play", "pause / play the looping clip", onStatusLine: item.frame == nil,
                    disabled: item.frame == nil ? nil : "a frame item is a still picture"),
            Binding(.toggleOverlay, "raw", "raw frame ↔ heatmap", onStatusLine: true),
            Binding(.cycleHeatmapMethod, "method", disabled: fixed),
            Binding(.cycleTargetClass, "target", disabled: fixed),
            Binding(.opacityUp, "opacity+", disabled: fixed),
            Binding(.opacityDown, "opacity-", disabled: fixed),
        ]
    }

    static func signed(_ v: Int) -> String { v > 0 ? "+\(v)" : "\(v)" }

    public func itemChanged(_ shell: Shell) throws {}

    public func perform(_ action: Action, _ shell: Shell) throws -> Effect {
        switch action {
        case .nextItem: return try move(to: position + 1, shell)
        case .previousItem: return try move(to: position - 1, shell)
        case .playPause:
            if shell.isPlaying { shell.stopPlayback(); shell.say("paused") } else { shell.startPlayback(); shell.say("playing in a loop") }
            return .frame
        case .toggleOverlay:
            showsRaw.toggle()
            shell.say(showsRaw ? "raw frame (\(shell.keymap.label(for: .toggleOverlay)): heatmap again)" : "heatmap")
            return .frame
        case .ratePoint1, .ratePoint2, .ratePoint3, .ratePoint4, .ratePoint5, .ratePoint6, .ratePoint7:
            guard requireMaps(shell) else { return .panel }
            let m: Int
            switch focused {
            case .rating(let i), .highlighted(let i): m = i
            default: m = answers.maps.firstIndex { $0.rating == nil } ?? 0
            }
            return try rate(map: m, point: action.ratePoint! - 1, shell)
        case .cursorLeft, .cursorRight:
            cursor = max(0, min(cursorCount - 1, cursor + (action == .cursorLeft ? -1 : 1)))
            return .panel
        case .nextQuestion, .previousQuestion:
            focus = (focus + (action == .nextQuestion ? 1 : questions.count - 1)) % questions.count
            cursorToAnswer()
            return .panel
        case .comment:
            return .prompt(.comment)
        case .choose:
            guard requireMaps(shell) else { return .panel }
            switch focused {
            case .rating(let m): return try rate(map: m, point: cursor, shell)
            case .highlighted(let m):
                var next = answers
                next.maps[m].highlighted = Self.toggled(answers.maps[m].highlighted, RatingPattern.allCases[cursor])
                return try commit(next, saying: "highlighted (\(mapName(m))): " + Self.describe(next.maps[m].highlighted), shell)
            case .visible:
                var next = answers
                next.visible = Self.toggled(answers.visible, RatingPattern.allCases[cursor])
                return try commit(next, saying: "visible: " + Self.describe(next.visible), shell)
            case .better:
                var next = answers
                next.better = Self.betterChoices[cursor]
                return try commit(next, saying: "better: " + betterText(next.better!), shell)
            case .classGuess:
                guard !guessClasses.isEmpty else { return .panel }
                var next = answers
                next.classGuess = guessClasses[cursor]
                return try commit(next, saying: "class guess " + SafeText.sanitize(guessClasses[cursor]), shell)
            case .comment: return .prompt(.comment)
            }
        default:
            return .none
        }
    }

    func betterText(_ p: PairPreference) -> String { p == .equal ? "both the same" : "\(p.rawValue) (\(p == .a ? "left" : "right"))" }
    func mapName(_ m: Int) -> String { answers.maps.count == 2 ? (m == 0 ? "A" : "B") : "map" }

    static func toggled(_ set: Set<RatingPattern>?, _ p: RatingPattern) -> Set<RatingPattern> {
        var s = set ?? []
        if s.contains(p) { s.remove(p) } else { s.insert(p) }
        return s
    }

    static func describe(_ s: Set<RatingPattern>?) -> String {
        guard let s, !s.isEmpty else { return "none" }
        return s.sorted().map(\.displayName).joined(separator: ", ")
    }

    private func rate(map m: Int, point: Int, _ shell: Shell) throws -> Effect {
        guard point < scale.points.count else {
            shell.say("the \(scale.rawValue) scale has \(scale.points.count) points", warning: true)
            return .panel
        }
        var next = answers
        let r = scale.points[point]
        next.maps[m].rating = r
        let effect = try commit(next, saying: "rating \(Self.signed(r.rawValue)) \"\(r.meaning)\"" + (answers.maps.count == 2 ? " for \(mapName(m))" : ""), shell)
        // On to the next unanswered map of a pair.
        if let other = next.maps.indices.first(where: { answers.maps[$0].rating == nil }), let q = questions.firstIndex(of: .rating(map: other)) {
            focus = q
            cursorToAnswer()
        } else if case .rating = focused { cursor = point }
        return effect
    }

    /// Writes the whole answer (one transaction), reads it back, then says it is saved.
    private func commit(_ next: TrialAnswers, saying what: String, _ shell: Shell) throws -> Effect {
        let now = Measure.now()
        let back = try backend.record(next, for: try trial(shell), secondsSpent: now - mark)
        mark = now
        recorded[item.trialID] = back
        answers = back.answers
        shell.say("saved: " + what + (back.finished ? " · item \(position + 1) done (\(shell.keymap.label(for: .nextItem)): next)" : ""))
        return .panel
    }

    public func answer(_ prompt: Prompt, _ text: String?, _ shell: Shell) throws -> Effect {
        guard let text else { shell.say("cancelled"); return .panel }
        guard requireMaps(shell) else { return .panel }
        let clean = text.trimmingCharacters(in: .whitespaces)
        if clean.unicodeScalars.contains(where: SafeText.isUnsafe) {
            shell.say("a comment cannot hold control characters", warning: true)
            return .panel
        }
        var next = answers
        next.comment = clean.isEmpty ? nil : clean
        return try commit(next, saying: clean.isEmpty ? "comment cleared" : "comment", shell)
    }

    public func promptDefault(_ prompt: Prompt) -> String { answers.comment ?? "" }

    public var usesShellOverlay: Bool { false }
}
