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
    private let backend: RatingBackend
    /// Models by ``RateSettings/models`` path.
    private let models: [String: RatingModel]
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

    /// For a `reference:NAME` target, the label field that names each map's class, checked
    /// against every model: a one-of-several head whose card says which Pleura label it predicts
    /// (`pleura_labels`), the same field for all models.
    static func referenceField(_ settings: RateSettings, models: [String: RatingModel], file: String) throws
        -> (annotator: String, field: LabelField)? {
        guard case .reference(let who) = settings.target else { return nil }
        var field: LabelField? = nil
        for path in settings.models {
            guard let model = models[path] else { continue }
            let name = "model \(Self.shortModel(path)) head '\(SafeText.sanitize(model.head))'"
            guard !model.isMultilabel else {
                throw PleuraError(file: file, "rate.target reference:…: the \(name) gives independent flags, not one class; "
                                  + "rate a one-of-several head (rate.head), or use a class name as the target")
            }
            guard let labelField = model.labelField else {
                throw PleuraError(file: file, "rate.target reference:…: the card of \(name) does not say which Pleura label it predicts "
                                  + "(pleura_labels); use target = \"predicted\" or a class name")
            }
            guard let f = LabelField(rawValue: labelField), f.finding == nil, f != .note else {
                throw PleuraError(file: file, "rate.target reference:…: the \(name) predicts '\(SafeText.sanitize(labelField))', which is not a "
                                  + "label Pleura records (its one-of-several label is severity): set rate.head = \"severity\", "
                                  + "or use target = \"predicted\" or a class name")
            }
            if let field, field != f {
                throw PleuraError(file: file, "rate.target reference:…: the models' heads predict different labels (\(field.rawValue), \(f.rawValue))")
            }
            field = f
        }
        return field.map { (who, $0) }
    }

    /// The reference's label of one item: the frame's own label, else the video's; for a whole
    /// clip the video's, else (severity) the highest frame score, as the ICLUS video score is the
    /// worst frame's.
    static func referenceLabel(_ byFrame: [Int: LabelSet], field: LabelField, frame: Int?) -> String? {
        if let frame, let v = byFrame[frame]?.value(of: field) { return v.text }
        if let v = byFrame[-1]?.value(of: field) { return v.text }
        guard frame == nil, field == .severity else { return nil }
        return byFrame.values.compactMap(\.severity).max().map { String($0.rawValue) }
    }

    static func shortModel(_ path: String) -> String { path == "embedded" ? path : URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent }

    /// FNV-1a, so a rater's name becomes part of the shuffle seed (stable across runs and machines).
    static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h
    }

    /// Shuffles each class's items and the classes from (seed, rater), then deals them round
    /// robin, so every stretch of the queue mixes the classes.
    static func order(_ items: [Item], seed: UInt64, rater: String) -> [Item] {
        var rng = SplitMix64(seed: seed ^ hash(rater))
        func shuffled<T>(_ a: [T]) -> [T] {
            var out = a
            if out.count > 1 { for i in stride(from: out.count - 1, to: 0, by: -1) { out.swapAt(i, Int(rng.next() % UInt64(i + 1))) } }
            return out
        }
        let classes = shuffled(Array(Set(items.map(\.balanceClass))).sorted())
        var groups = classes.map { c in shuffled(items.filter { $0.balanceClass == c }) }
        var out: [Item] = []
        while out.count < items.count {
            for g in groups.indices where !groups[g].isEmpty { out.append(groups[g].removeFirst()) }
        }
        return out
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

    // MARK: maps

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
    var preparing: [String: Preparation] = [:]
    /// Items whose maps could not be made, with why (they show the raw frame and take no answer).
    var unprepared: [String: String] = [:]

    /// The item's maps: from the store where `pleura infer` (or an earlier view) put them, else
    /// computed now and stored (so `pleura ratings verify` and the next rater find them).
    private func resolve(_ it: Item, _ shell: Shell) throws -> [ResolvedMap] {
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
    private func prepare(_ it: Item, _ shell: Shell, until deadline: Double) throws -> [ResolvedMap]? {
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
