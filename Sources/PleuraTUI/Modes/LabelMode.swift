import Foundation
import PleuraCore

/// Label mode: ICLUS findings, severity, quality and a note per frame (or whole video), on the
/// shared ``Shell``. It holds only the label state (the item's labels as stored, whole-video vs
/// frame, the unlabelled-only filter, which frames carry labels) and commits every change through
/// its ``LabelBackend`` before the panel shows it.
public final class LabelMode: ScreenMode {
    public let kind = Session.Mode.label
    public let title = "label mode"
    private let backend: LabelBackend

    /// Labels apply to the whole video instead of the frame.
    public private(set) var videoLevel = false
    public private(set) var unlabelledOnly = false
    /// Labels of the current item, as the store has them.
    public private(set) var labels = LabelSet()
    /// Sampled frames per clip (index) that carry labels by this annotator.
    private var labelled: [Int: Set<Int>] = [:]
    /// Exams and zones (sessions with an `[exam]` table), nil otherwise.
    public let exams: ExamBackend?
    /// The current clip's zone and the frame's Hu class, as the store has them.
    public private(set) var zone: String?
    public private(set) var frameClass: HuFrameClass?

    public init(backend: LabelBackend, exams: ExamBackend? = nil) {
        self.backend = backend
        self.exams = exams
    }

    /// The item labels apply to now.
    public func item(in shell: Shell) -> ItemRef? {
        guard let sha = shell.clip.sha256 else { return nil }
        return ItemRef(mediaSHA256: sha, frame: videoLevel ? nil : shell.frame)
    }

    /// Labelled frames of a clip by this annotator.
    public func labelledFrames(clip index: Int) -> Set<Int> { labelled[index] ?? [] }

    /// (labelled, total) frame-level items over the clips opened so far, and how many clips are
    /// not opened yet (their frames are not counted).
    public func progress(_ shell: Shell) -> (labelled: Int, total: Int, unopenedClips: Int) {
        var done = 0, total = 0, unopened = 0
        for (i, c) in shell.clips.enumerated() {
            if !c.isOpen { if !c.failed { unopened += 1 }; continue }
            total += c.sampledFrames.count
            done += labelled[i]?.count ?? 0
        }
        return (done, total, unopened)
    }

    // MARK: mode protocol

    public func itemChanged(_ shell: Shell) throws {
        guard let item = item(in: shell) else { labels = LabelSet(); zone = nil; frameClass = nil; return }
        labels = try backend.labels(of: item)
        zone = try exams?.zone(ofMedia: item.mediaSHA256)
        frameClass = nil
        if shell.session.schema.huFrameClasses, let exams, let f = item.frame {
            frameClass = try exams.frameClasses(ofMedia: item.mediaSHA256)[f]
        }
    }

    public func clipOpened(_ index: Int, _ shell: Shell) throws {
        let c = shell.clips[index]
        guard let sha = c.sha256 else { return }
        try exams?.place(file: c.url, media: sha)
        try recount(clip: index, shell)
    }

    /// The clip's labelled sampled frames: any label, or (hu6) a frame class.
    private func recount(clip index: Int, _ shell: Shell) throws {
        let c = shell.clips[index]
        guard let sha = c.sha256 else { return }
        var frames = try backend.labelledFrames(ofMedia: sha)
        if shell.session.schema.huFrameClasses, let exams { frames.formUnion(try exams.frameClasses(ofMedia: sha).keys) }
        labelled[index] = frames.intersection(c.sampledFrames)
    }

    public func skipsFrame(_ shell: Shell, clip: Int, frame: Int) -> Bool {
        unlabelledOnly && (labelled[clip]?.contains(frame) ?? false)
    }

    public var skipFilterName: String? { unlabelledOnly ? "unlabelled" : nil }

    public func bindings(_ shell: Shell) -> [Binding] {
        let schema = shell.session.schema
        func refused(_ field: LabelField) -> String? {
            schema.allows(field) ? nil : "\(field.rawValue) is not part of this session's schema"
        }
        var b = shell.frameNavigationBindings()
        for (action, finding) in [(Action.toggleALines, Finding.aLines), (.toggleB1Lines, .b1Lines), (.toggleB2Lines, .b2Lines), (.toggleConsolidation, .consolidation)] {
            b.append(Binding(action, LabelMode.shortName(finding), "\(finding.displayName): present → absent → not assessed",
                             onStatusLine: schema.findings.contains(finding), disabled: refused(LabelField(finding))))
        }
        for action in [Action.severity0, .severity1, .severity2, .severity3] {
            b.append(Binding(action, "sev", onStatusLine: schema.severity, disabled: refused(.severity)))
        }
        b += [
            Binding(.videoLevel, "video", videoLevel ? "labels apply to the whole video; press for frame labels" : "switch between frame and whole-video labels"),
            Binding(.poorQuality, "poor", "toggle poor image quality", disabled: refused(.quality)),
            Binding(.note, "note", disabled: schema.note ? nil : "notes are not part of this session's schema"),
            Binding(.carryForward, "carry", onStatusLine: true,
                    disabled: videoLevel ? "carry forward copies between frames; switch off whole-video labels first" : nil),
            Binding(.unlabelledOnly, "unlabelled", unlabelledOnly ? "show all frames again" : "show only unlabelled frames"),
            Binding(.undo, "undo", "undo your last change in this session (says what it undid)", onStatusLine: true),
            Binding(.redo, "redo"),
        ]
        let noExam = exams == nil ? "this session has no [exam] table (exam.protocol, exam.pattern)" : nil
        b.append(Binding(.setZone, "zone", onStatusLine: exams != nil, disabled: noExam))
        b.append(Binding(.examOverview, "exam", onStatusLine: exams != nil, disabled: noExam))
        let classOff: String? = !schema.huFrameClasses ? "frame classes are not part of this session's schema (schema.frame_classes = \"hu6\")"
            : exams == nil ? "frame classes need an [exam] table in the session"
            : videoLevel ? "a frame class belongs to one frame; switch off whole-video labels first" : nil
        for action in [Action.frameClass1, .frameClass2, .frameClass3, .frameClass4, .frameClass5, .frameClass6] {
            b.append(Binding(action, "class", onStatusLine: action == .frameClass1 && schema.huFrameClasses, disabled: classOff))
        }
        return b
    }

    /// The findings as the panel and status line name them.
    static func shortName(_ f: Finding) -> String {
        switch f {
        case .aLines: return "A"
        case .b1Lines: return "B1"
        case .b2Lines: return "B2"
        case .consolidation: return "cons"
        }
    }

    public func perform(_ action: Action, _ shell: Shell) throws -> Effect {
        switch action {
        case .toggleALines, .toggleB1Lines, .toggleB2Lines, .toggleConsolidation:
            let finding = action.toggledFinding!
            // present → absent → not assessed → present
            let next: Bool?
            switch labels[finding] {
            case nil: next = true
            case true?: next = false
            case false?: next = nil
            }
            return try change([LabelChange(LabelField(finding), next.map { .flag($0) })],
                              saying: "\(finding.displayName) " + (next.map { $0 ? "present" : "absent" } ?? "not assessed"), shell)
        case .severity0, .severity1, .severity2, .severity3:
            let severity = action.severity!
            if labels.severity == severity { shell.say("severity is already \(severity.rawValue)"); return .panel }
            return try change([LabelChange(.severity, .severity(severity))], saying: "severity \(severity.rawValue)", shell)
        case .poorQuality:
            let next: Quality = labels.quality == .poor ? .ok : .poor
            return try change([LabelChange(.quality, .quality(next))], saying: "quality \(next.rawValue)", shell)
        case .note:
            return .prompt(.note)
        case .videoLevel:
            videoLevel.toggle()
            try itemChanged(shell)
            shell.say(videoLevel ? "labels now apply to the whole video" : "labels now apply to frame \(shell.frame)")
            return .panel
        case .carryForward: return try carryForward(shell)
        case .setZone: return .prompt(.zone)
        case .examOverview: return .examOverview
        case .frameClass1, .frameClass2, .frameClass3, .frameClass4, .frameClass5, .frameClass6:
            return try setFrameClass(action.frameClass!, shell)
        case .unlabelledOnly:
            unlabelledOnly.toggle()
            if unlabelledOnly {
                shell.say("showing unlabelled frames only")
                if skipsFrame(shell, clip: shell.clipIndex, frame: shell.frame) { return try shell.perform(.nextFrame) }
            } else { shell.say("showing all frames") }
            return .panel
        case .undo, .redo:
            let touched = try action == .undo ? backend.undo() : backend.redo()
            guard let touched else { shell.say("nothing to \(action.rawValue)", warning: true); return .panel }
            return try land(on: touched, saying: action == .undo ? "undone" : "redone", shell)
        default:
            return .none
        }
    }

    public func answer(_ prompt: Prompt, _ text: String?, _ shell: Shell) throws -> Effect {
        guard let text else { shell.say("cancelled"); return .panel }
        if prompt == .zone { return try answerZone(text, shell) }
        guard prompt == .note else { return .none }
        let clean = text.trimmingCharacters(in: .whitespaces)
        if clean.unicodeScalars.contains(where: SafeText.isUnsafe) {
            shell.say("a note cannot hold control characters", warning: true)
            return .panel
        }
        return try change([LabelChange(.note, clean.isEmpty ? nil : .note(clean))], saying: clean.isEmpty ? "note cleared" : "note saved", shell)
    }

    public func promptDefault(_ prompt: Prompt) -> String {
        switch prompt {
        case .note: return labels.note ?? ""
        case .zone: return ""   // a zone is typed whole (the panel shows the current one)
        default: return ""
        }
    }

    // MARK: zones and frame classes

    private func answerZone(_ text: String, _ shell: Shell) throws -> Effect {
        guard let exams, let sha = shell.clip.sha256 else { return .panel }
        let clean = text.trimmingCharacters(in: .whitespaces)
        var name: String? = nil
        if !clean.isEmpty {
            guard let z = exams.settings.zoneProtocol.zone(matching: clean) else {
                let names = exams.settings.zoneProtocol.zones.map(\.name)
                shell.say("no zone '\(SafeText.sanitize(String(clean.prefix(16))))' in \(exams.settings.zoneProtocol.name): "
                          + names.joined(separator: " "), warning: true)
                return .panel
            }
            name = z.name
        }
        try exams.setZone(name, ofMedia: sha)
        zone = try exams.zone(ofMedia: sha)
        shell.say(name.map { "saved: zone \($0) (this clip)" } ?? "saved: zone key cleared (this clip: \(zone ?? "no zone"))")
        return .panel
    }

    private func setFrameClass(_ value: HuFrameClass, _ shell: Shell) throws -> Effect {
        guard let exams, let item = item(in: shell), item.frame != nil else { return .panel }
        if !shell.frameIsSampled {
            shell.say("frame \(shell.frame) is not one of the session's sampled frames; step to one to label it", warning: true)
            return .panel
        }
        // The class that is set already, pressed again, clears it (not assessed).
        let next: HuFrameClass? = frameClass == value ? nil : value
        try exams.setFrameClass(next, item: item)
        frameClass = try exams.frameClasses(ofMedia: item.mediaSHA256)[item.frame!]
        try recount(clip: shell.clipIndex, shell)
        shell.say("saved: " + (next.map { "\($0.displayName) (score \(ExamNumber.text($0.score)))" } ?? "frame class cleared")
                  + " (frame \(shell.frame))")
        return .panel
    }

    // MARK: changing labels

    private func change(_ changes: [LabelChange], saying what: String, _ shell: Shell) throws -> Effect {
        guard let item = item(in: shell) else { return .none }
        if let refused = changes.first(where: { !shell.session.schema.allows($0.field) }) {
            shell.say("\(refused.field.rawValue) is not part of this session's schema", warning: true)
            return .panel
        }
        if !videoLevel && !shell.frameIsSampled {
            shell.say("frame \(shell.frame) is not one of the session's sampled frames; step to one to label it", warning: true)
            return .panel
        }
        labels = try backend.apply(changes, to: item)
        noteLabelled(item, labels, shell)
        shell.say("saved: \(what) (\(videoLevel ? "whole video" : "frame \(shell.frame)"))")
        return .panel
    }

    /// Keeps the progress counts and the unlabelled-only filter current after `item` changed to
    /// `stored` (every opened clip with that content: a session may list one file twice).
    private func noteLabelled(_ item: ItemRef, _ stored: LabelSet, _ shell: Shell) {
        guard let f = item.frame else { return }
        for (index, c) in shell.clips.enumerated() where c.sha256 == item.mediaSHA256 {
            if stored.isEmpty { labelled[index]?.remove(f) }
            else if c.sampledFrames.contains(f) { labelled[index, default: []].insert(f) }
        }
    }

    private func carryForward(_ shell: Shell) throws -> Effect {
        let frames = shell.clip.sampledFrames
        guard let position = frames.firstIndex(of: shell.frame), position > 0, let sha = shell.clip.sha256 else {
            shell.say("no previous frame to carry labels from", warning: true)
            return .panel
        }
        let previous = frames[position - 1]
        let source = try backend.labels(of: ItemRef(mediaSHA256: sha, frame: previous))
        guard !source.isEmpty else { shell.say("frame \(previous) has no labels to carry forward", warning: true); return .panel }
        let changes = Self.changes(from: labels, to: source).filter { shell.session.schema.allows($0.field) }
        guard !changes.isEmpty else { shell.say("frame \(shell.frame) already has frame \(previous)'s labels"); return .panel }
        return try change(changes, saying: "labels of frame \(previous) carried forward", shell)
    }

    /// The changes that turn `old` into `new`, field by field, in CSV column order.
    static func changes(from old: LabelSet, to new: LabelSet) -> [LabelChange] {
        LabelField.allCases.compactMap { f in
            old.value(of: f) == new.value(of: f) ? nil : LabelChange(f, new.value(of: f))
        }
    }

    /// "A-lines present → absent": what an undo or redo changed.
    static func describe(_ changes: [LabelEdit.FieldChange]) -> String {
        func show(_ field: LabelField, _ v: LabelValue?) -> String {
            guard let v else { return field.finding != nil ? "not assessed" : "empty" }
            switch v {
            case .flag(let b): return b ? "present" : "absent"
            case .note(let n): return "\"" + SafeText.sanitize(String(n.prefix(20))) + (n.count > 20 ? "…\"" : "\"")
            default: return v.text
            }
        }
        func name(_ f: LabelField) -> String { f.finding?.displayName ?? f.rawValue }
        let parts = changes.map { "\(name($0.field)) \(show($0.field, $0.old)) → \(show($0.field, $0.new))" }
        return parts.count <= 2 ? parts.joined(separator: ", ") : "\(parts.count) fields"
    }

    /// After undo/redo: show the item that changed, wherever it is, and say what changed.
    private func land(on edit: LabelEdit, saying what: String, _ shell: Shell) throws -> Effect {
        let touched = edit.item
        noteLabelled(touched, edit.labels, shell)
        if shell.session.schema.huFrameClasses {
            for (index, c) in shell.clips.enumerated() where c.sha256 == touched.mediaSHA256 { try recount(clip: index, shell) }
        }
        let detail = edit.changes.isEmpty ? "" : ": " + Self.describe(edit.changes)
        let place = touched.frame.map { "frame \($0)" } ?? "whole video"
        if let index = shell.clips.firstIndex(where: { $0.sha256 == touched.mediaSHA256 }) {
            let target = touched.frame ?? shell.frame
            let sameClip = index == shell.clipIndex
            videoLevel = touched.frame == nil
            try shell.show(clip: index, frame: sameClip && touched.frame == nil ? shell.frame : target)
            shell.say("\(what)\(detail) (\(place))")
            return .frame
        }
        try itemChanged(shell)
        shell.say("\(what)\(detail) (\(place), in a clip outside this session)")
        return .panel
    }

    // MARK: panel

    public func panel(_ shell: Shell) -> [PanelLine] {
        let keys = shell.keymap
        var lines: [PanelLine] = []
        func add(_ s: String, _ style: PanelLine.Style = .normal) { lines.append(PanelLine(s, style)) }
        let f = shell.frame
        add(videoLevel ? "Labels WHOLE VIDEO (\(keys.label(for: .videoLevel)): frame)" : "Labels frame \(f) (\(keys.label(for: .videoLevel)): video)",
            videoLevel ? .warning : .bold)
        let schema = shell.session.schema
        if exams != nil {
            add(" Zone     \(zone ?? "–")   (\(keys.label(for: .setZone)): set, \(keys.label(for: .examOverview)): exam)")
        }
        if schema.huFrameClasses {
            let order: [Action] = [.frameClass1, .frameClass2, .frameClass3, .frameClass4, .frameClass5, .frameClass6]
            for (c, action) in zip(HuFrameClass.allCases, order) {
                let mark = frameClass == c ? "(•)" : "( )"
                add(" \(mark) \(TextWidth.pad(keys.label(for: action), to: 3)) \(TextWidth.pad(c.displayName, to: 13)) \(ExamNumber.text(c.score))",
                    frameClass == c ? .ok : .normal)
            }
        }
        for finding in Finding.allCases where schema.findings.contains(finding) {
            let mark: String
            switch labels[finding] {
            case true?: mark = "[x]"
            case false?: mark = "[ ]"
            case nil: mark = "[·]"
            }
            let action: Action = [.aLines: .toggleALines, .b1Lines: .toggleB1Lines, .b2Lines: .toggleB2Lines,
                                  .consolidation: .toggleConsolidation][finding]!
            add(" \(mark) \(TextWidth.pad(keys.label(for: action), to: 3)) \(ShellScreen.longName(finding))", labels[finding] == true ? .ok : .normal)
        }
        if schema.severity {
            let sev = labels.severity.map { String($0.rawValue) } ?? "–"
            add(" Severity \(sev)   (\(keys.label(for: .severity0))–\(keys.label(for: .severity3)))")
        }
        if schema.quality {
            add(" Quality  \(labels.quality?.rawValue ?? "–")   (\(keys.label(for: .poorQuality)): poor)", labels.quality == .poor ? .warning : .normal)
        }
        if schema.note {
            add(" Note     " + (labels.note.map { "\"" + SafeText.sanitize($0) + "\"" } ?? "–"))
        }
        return lines
    }

    public func progressLines(_ shell: Shell) -> [PanelLine] {
        let p = progress(shell)
        var lines = [PanelLine("Progress  \(p.labelled)/\(p.total) frames labelled")]
        // Always this row, blank when every clip is open: rows below never move (see ShellScreen.drawText).
        lines.append(PanelLine(p.unopenedClips > 0 ? "          (+\(p.unopenedClips) clip\(p.unopenedClips == 1 ? "" : "s") still opening)" : "", .dim))
        let clipDone = labelled[shell.clipIndex]?.count ?? 0
        lines.append(PanelLine("This clip \(clipDone)/\(shell.clip.sampledFrames.count)" + (unlabelledOnly ? "  · unlabelled only" : "")))
        if shell.session.sampling != .everyFrame { lines.append(PanelLine("Sampling  \(ShellScreen.describe(shell.session.sampling))", .dim)) }
        return lines
    }
}
