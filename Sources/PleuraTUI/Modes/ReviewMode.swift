import Foundation
import PleuraCore
import PleuraRender
import PleuraStore

/// Review mode: a trainee works through the disagreements of the store (the reference against a
/// model, or two humans), on the shared ``Shell``.
///
/// Each item is a frame or a looping clip. The side panel shows the reference's labels, the other
/// humans', the model's answer with its confidence ("seen in training" when the model's card
/// lists the file) and the trainee's own answer; the heatmap flips between the model's class
/// and the reference's. In a quiz (`quiz = true`) the trainee answers first with the labelling
/// keys and locks the answer; only then are the others shown. Answers, marks ("reviewed"), notes
/// and "the reference may be wrong" flags are review rows, committed before the screen says so.
public final class ReviewMode: ScreenMode {
    public let kind = Session.Mode.review
    public let title = "review mode"

    /// One queue item: an item of the store and why it is in the queue.
    public struct Item {
        public var item: ItemRef
        /// Index into the shell's clips.
        public var clip: Int
        /// The disagreements on it, most instructive first.
        public var entries: [ReviewQueueEntry]
        public init(item: ItemRef, clip: Int, entries: [ReviewQueueEntry]) { self.item = item; self.clip = clip; self.entries = entries }
    }

    /// Which class the heatmap explains.
    public enum MapClass: String, Sendable { case model, reference }

    public let items: [Item]
    public let quiz: Bool
    public let schema: LabelSchema
    private let backend: ReviewBackend
    let model: ReviewModel?
    /// Why there are no heatmaps (no model), shown in the panel.
    let modelProblem: String?
    let method: HeatmapMethod

    public private(set) var position = 0
    /// The item's labels and model answers (read when it is shown).
    public private(set) var context: ReviewItemContext?
    /// The trainee's answer being written (not stored until committed).
    public private(set) var draft = LabelSet()
    /// This trainee's stored reviews (answers, marks, notes, flags).
    public private(set) var own: [Review] = []
    public private(set) var progress: ReviewProgress
    public private(set) var mapClass = MapClass.model
    public private(set) var showsMap = true
    public private(set) var opacityPercent = 50
    public private(set) var showsProgress = false
    var mapCache: [String: Heatmap] = [:]
    private var mapCacheOrder: [String] = []
    /// Why the map of the item on screen could not be drawn.
    var mapProblem: String?

    public init(items: [Item], quiz: Bool, schema: LabelSchema, backend: ReviewBackend, model: ReviewModel?, modelProblem: String?,
                method: HeatmapMethod, trainee: String) throws {
        self.items = items
        self.quiz = quiz
        self.schema = schema
        self.backend = backend
        self.model = model
        self.modelProblem = modelProblem
        self.method = method
        own = try backend.ownReviews()
        progress = ReviewProgress(trainee: trainee, reviews: own)
    }

    public var item: Item { items[position] }

    /// The trainee's stored answer on the item on screen (the latest answer rows), if any.
    public var storedAnswer: LabelSet? { Self.answer(in: own, item: item.item) }

    static func answer(in reviews: [Review], item: ItemRef) -> LabelSet? {
        let rows = reviews.filter { $0.item == item && ReviewField(rawValue: $0.field) != nil }
        guard let last = rows.last else { return nil }
        var set = LabelSet()
        for r in rows where r.at == last.at {
            guard let f = ReviewField(rawValue: r.field), let v = r.ownValue.flatMap(Int.init) else { continue }
            switch f {
            case .severity: set.severity = Severity(rawValue: v)
            case .aLines: set[.aLines] = v == 1
            case .b1Lines: set[.b1Lines] = v == 1
            case .b2Lines: set[.b2Lines] = v == 1
            case .consolidation: set[.consolidation] = v == 1
            case .bLines: break
            }
        }
        return set
    }

    /// Whether the others' answers are on screen: always outside a quiz, after the trainee's
    /// answer is locked in one.
    public var revealed: Bool { !quiz || storedAnswer != nil }

    public var answeredCount: Int { Set(own.filter { ReviewField(rawValue: $0.field) != nil }.map(\.item)).count }

    func marks(_ mark: ReviewMark) -> [Review] { own.filter { $0.item == item.item && $0.field == mark.rawValue } }

    /// The model answer the panel and the heatmap use: the loaded model's, else the first.
    var modelAnswer: ModelAnswer? {
        guard let models = context?.models else { return nil }
        return models.first { $0.model == model?.sha256 } ?? models.first
    }

    // MARK: moving

    /// Shows the first item this trainee has not answered (or the first).
    public func start(_ shell: Shell) throws {
        guard !items.isEmpty else { throw PleuraError(file: shell.session.file.path, "nothing to review") }
        let answered = Set(own.filter { ReviewField(rawValue: $0.field) != nil }.map(\.item))
        position = items.firstIndex { !answered.contains($0.item) } ?? 0
        try shell.start(clip: item.clip, frame: item.item.frame ?? 0)
        try enter(shell)
        let done = answeredCount
        shell.say(done == 0 ? "\(items.count) disagreements to review\(quiz ? " (quiz: answer first, then the others are shown)" : ""); \(shell.keymap.label(for: .help)) lists the keys"
                  : "welcome back: \(done) of \(items.count) answered, continuing with item \(position + 1)")
    }

    private func enter(_ shell: Shell) throws {
        context = try backend.context(of: item.item)
        draft = storedAnswer ?? LabelSet()
        mapClass = .model
        mapProblem = nil
        shell.loopsPlayback = item.item.frame == nil
        if item.item.frame == nil { shell.startPlayback() }
    }

    private func move(to newPosition: Int, _ shell: Shell) throws -> Effect {
        guard newPosition >= 0, newPosition < items.count else {
            shell.say(newPosition < 0 ? "this is the first item" : "this is the last item (\(answeredCount) of \(items.count) answered)", warning: newPosition < 0)
            return .panel
        }
        shell.stopPlayback()
        position = newPosition
        try shell.show(clip: item.clip, frame: item.item.frame ?? 0)
        try enter(shell)
        shell.say("item \(position + 1) of \(items.count)" + (storedAnswer != nil ? " (answered)" : ""))
        return .frame
    }

    // MARK: picture

    /// The class the heatmap explains now (severity head when both sides give a severity, else
    /// the model's top class of its diagnosis head), or why there is none.
    func mapTarget() -> (head: String, className: String)? {
        guard let model else { return nil }
        let refSeverity = context?.reference.labels.severity?.rawValue
        if model.heads["severity"] != nil, let m = modelAnswer?.severity?.value {
            let cls = mapClass == .reference ? (refSeverity ?? m) : m
            return ("severity", String(cls))
        }
        if let top = modelAnswer?.topClass?.name, model.heads["diagnosis"] != nil { return ("diagnosis", top) }
        return nil
    }

    public var usesShellOverlay: Bool { false }

    public func paneContent(_ shell: Shell) throws -> (key: String, content: PaneContent?)? {
        let target = mapTarget()
        let drawn = showsMap && revealed && target != nil
        let key = "review/\(position)/\(shell.frame)/\(drawn ? "\(target!.head)/\(target!.className)/\(opacityPercent)/\(method.rawValue)" : "plain")"
        guard let image = try shell.currentImage() else { return (key, nil) }
        guard drawn, let model, let target else { return (key, PaneContent(frame: image)) }
        let cacheKey = "\(item.item.mediaSHA256)/\(shell.frame)/\(target.head)/\(target.className)/\(method.rawValue)"
        var map = mapCache[cacheKey]
        if map == nil {
            do {
                map = try model.heatmap(of: image, head: target.head, className: target.className, method: method)
                mapCache[cacheKey] = map
                mapCacheOrder.append(cacheKey)
                if mapCacheOrder.count > 256 { mapCache[mapCacheOrder.removeFirst()] = nil }
                mapProblem = nil
            } catch {
                mapProblem = SafeText.sanitize((error as? PleuraError)?.reason ?? "\(error)")
                return (key, PaneContent(frame: image))
            }
        }
        let style = OverlayStyle(colormap: .jet, opacity: Float(opacityPercent) / 100, threshold: method.threshold)
        return (key, PaneContent(frame: image, overlay: (map!, style)))
    }

    // MARK: bindings

    public func bindings(_ shell: Shell) -> [Binding] {
        let lockedWhy = storedAnswer != nil ? "your answer to this item is saved and locked; \(shell.keymap.label(for: .nextItem)) goes to the next item" : nil
        var b: [Binding] = []
        for (action, finding) in [(Action.toggleALines, Finding.aLines), (.toggleB1Lines, .b1Lines), (.toggleB2Lines, .b2Lines), (.toggleConsolidation, .consolidation)] {
            let off = schema.findings.contains(finding) ? lockedWhy : "this session's schema has no \(finding.displayName)"
            b.append(Binding(action, finding == .aLines ? "A/B1/B2/cons" : finding.displayName, "your answer: " + action.summary,
                             onStatusLine: finding == .aLines, disabled: off))
        }
        for action in [Action.severity0, .severity1, .severity2, .severity3] {
            b.append(Binding(action, "severity", "your answer: " + action.summary, onStatusLine: action == .severity0,
                             disabled: schema.severity ? lockedWhy : "this session's schema has no severity"))
        }
        let nothing = draft.findings.isEmpty && draft.severity == nil
        b += [
            Binding(.commitAnswer, quiz ? "lock + reveal" : "save answer", quiz ? "lock your answer and reveal the reference, other humans and the model" : "save your answer (compared with the reference)",
                    onStatusLine: true, disabled: lockedWhy ?? (nothing ? "answer first: findings with the label keys, severity 0–3" : nil)),
            Binding(.markReviewed, "reviewed", "mark this item reviewed", onStatusLine: true,
                    disabled: marks(.reviewed).isEmpty ? nil : "this item is already marked reviewed"),
            Binding(.note, "note", "write a note on this item (stored with your reviews)"),
            Binding(.flagReference, "flag ref", "flag \"the reference may be wrong\" on this item (exported for an expert)", onStatusLine: true,
                    disabled: !revealed ? "answer first: the reference is hidden until you lock your answer" : marks(.referenceFlag).isEmpty ? nil : "already flagged"),
            Binding(.progress, showsProgress ? "item" : "progress", showsProgress ? "back to the item" : "your agreement with the reference over time",
                    onStatusLine: true),
        ]
        if item.item.frame == nil { b += shell.frameNavigationBindings() }
        return b
    }

    public func commonOverrides(_ shell: Shell) -> [Binding] {
        let hidden = revealed ? nil : "answer first: the heatmap shows the model's class"
        let noMap = model == nil ? "no heatmaps: " + (modelProblem ?? "no model") : nil
        var b = [
            Binding(.nextItem, "next", "next item of the queue", onStatusLine: true),
            Binding(.previousItem, "prev", "previous item of the queue"),
            Binding(.playPause, "play", "pause / play the looping clip", onStatusLine: item.item.frame == nil,
                    disabled: item.item.frame == nil ? nil : "a frame item is a still picture"),
            Binding(.toggleOverlay, "heatmap", "heatmap on / off", onStatusLine: true, disabled: noMap ?? hidden),
            Binding(.cycleTargetClass, "model↔ref class", "heatmap of the model's class ↔ the reference's class", onStatusLine: true,
                    disabled: noMap ?? hidden ?? (context?.reference.labels.severity == nil ? "the reference gives no severity class" : nil)),
            Binding(.cycleHeatmapMethod, "method", disabled: noMap ?? "the session's [model] heatmap method is used"),
            Binding(.opacityUp, "opacity+", disabled: noMap),
            Binding(.opacityDown, "opacity-", disabled: noMap),
        ]
        if item.item.frame != nil {
            for nav in shell.frameNavigationBindings() {
                var d = nav
                d.disabled = "a frame item: \(shell.keymap.label(for: .nextItem)) / \(shell.keymap.label(for: .previousItem)) move through the queue"
                b.append(d)
            }
        }
        return b
    }

    public func itemChanged(_ shell: Shell) throws {}

    // MARK: actions

    public func perform(_ action: Action, _ shell: Shell) throws -> Effect {
        switch action {
        case .nextItem: return try move(to: position + 1, shell)
        case .previousItem: return try move(to: position - 1, shell)
        case .playPause:
            if shell.isPlaying { shell.stopPlayback(); shell.say("paused") } else { shell.startPlayback(); shell.say("playing in a loop") }
            return .frame
        case .toggleOverlay:
            showsMap.toggle()
            shell.say(showsMap ? "heatmap on" : "heatmap off (raw frame)")
            return .frame
        case .cycleTargetClass:
            mapClass = mapClass == .model ? .reference : .model
            shell.say("heatmap of the \(mapClass == .model ? "model's" : "reference's") class" + (mapTarget().map { ": \($0.head) \(SafeText.sanitize($0.className))" } ?? ""))
            return .frame
        case .opacityUp, .opacityDown:
            let next = opacityPercent + (action == .opacityUp ? 10 : -10)
            guard (10...100).contains(next) else { shell.say("opacity is already \(opacityPercent)%"); return .panel }
            opacityPercent = next
            shell.say("heatmap opacity \(next)%")
            return .frame
        case .toggleALines, .toggleB1Lines, .toggleB2Lines, .toggleConsolidation:
            let f = action.toggledFinding!
            // Not assessed → present → absent → not assessed.
            draft[f] = draft[f] == nil ? true : draft[f] == true ? false : nil
            shell.say("your answer: \(f.displayName) \(Self.describe(draft[f])) (not saved until \(shell.keymap.label(for: .commitAnswer)))")
            return .panel
        case .severity0, .severity1, .severity2, .severity3:
            let s = action.severity!
            draft.severity = draft.severity == s ? nil : s
            shell.say("your answer: severity \(draft.severity.map { String($0.rawValue) } ?? "not assessed") (not saved until \(shell.keymap.label(for: .commitAnswer)))")
            return .panel
        case .commitAnswer: return try commit(shell)
        case .markReviewed:
            try record([mark(.reviewed, comment: nil)], shell)
            shell.say("saved: marked reviewed")
            return .panel
        case .flagReference:
            try record([mark(.referenceFlag, comment: nil)], shell)
            shell.say("saved: flagged \"the reference may be wrong\" (pleura export --kind reviews carries it)")
            return .panel
        case .note: return .prompt(.note)
        case .progress:
            showsProgress.toggle()
            return .panel
        default:
            shell.say("\(action.rawValue) does nothing in review mode", warning: true)
            return .panel
        }
    }

    public func answer(_ prompt: Prompt, _ text: String?, _ shell: Shell) throws -> Effect {
        guard prompt == .note else { return .none }
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { shell.say("no note saved"); return .panel }
        try record([mark(.note, comment: text)], shell)
        shell.say("saved: note")
        return .panel
    }

    static func describe(_ v: Bool?) -> String { v.map { $0 ? "present" : "absent" } ?? "not assessed" }

    /// The second side a review row names: the model (its SHA-256) when it answered, else the
    /// first other human.
    private var second: (source: String, answer: (ReviewField) -> Int?) {
        if let m = modelAnswer {
            return ("model:" + m.model, { f in m.value(f == .b1Lines || f == .b2Lines ? (m.findings[f] != nil ? f : .bLines) : f) })
        }
        if let o = context?.others.first { return (o.name, { $0.value(of: o.labels) }) }
        return ("none", { _ in nil })
    }

    private func mark(_ m: ReviewMark, comment: String?) -> Review {
        Review(item: item.item, field: m.rawValue, firstSource: context?.reference.name ?? "reference", firstValue: nil,
               secondSource: second.source, secondValue: nil, verdict: .unsure, comment: comment, heatmapSHA256: nil)
    }

    /// Locks the draft: one review row per answered field, with the reference's and the second
    /// side's values as shown after the reveal, and which of them the trainee agreed with.
    private func commit(_ shell: Shell) throws -> Effect {
        let ref = context?.reference.labels ?? LabelSet()
        let other = second
        var rows: [Review] = []
        for field in ReviewField.humanFields {
            guard let own = field.value(of: draft) else { continue }
            let first = field.value(of: ref), sec = other.answer(field)
            let verdict: Review.Verdict
            switch (own == first, own == sec) {
            case (true, true): verdict = .both
            case (true, false): verdict = .first
            case (false, true): verdict = .second
            default: verdict = first == nil && sec == nil ? .unsure : .neither
            }
            rows.append(Review(item: item.item, field: field.rawValue, firstSource: ref.isEmpty ? "none" : (context?.reference.name ?? "reference"),
                               firstValue: first.map(String.init), secondSource: other.source, secondValue: sec.map(String.init),
                               ownValue: String(own), verdict: verdict))
        }
        guard !rows.isEmpty else { shell.say("answer first: findings with the label keys, severity 0–3", warning: true); return .panel }
        try record(rows, shell)
        let compared = rows.filter { $0.firstValue != nil }
        let agreed = compared.filter { $0.verdict == .first || $0.verdict == .both }.count
        shell.say("saved: your answer (\(rows.count) field\(rows.count == 1 ? "" : "s")); you agree with the reference on \(agreed) of \(compared.count)")
        return .frame
    }

    private func record(_ rows: [Review], _ shell: Shell) throws {
        own += try backend.record(rows)
        progress = ReviewProgress(trainee: progress.trainee, reviews: own)
    }

    public func panel(_ shell: Shell) -> [PanelLine] { showsProgress ? progressPanel(shell) : itemPanel(shell) }

    public func progressLines(_ shell: Shell) -> [PanelLine] {
        [PanelLine("Answered \(answeredCount) of \(items.count)" + (progress.flags > 0 ? " · \(progress.flags) flagged" : ""), .dim)]
    }
}
