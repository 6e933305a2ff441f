import Foundation
import PleuraCore
import PleuraStore

/// Review mode's side panel: a pure function of the mode's state (the shell draws it).
extension ReviewMode {
    func itemPanel(_ shell: Shell) -> [PanelLine] {
        var lines: [PanelLine] = []
        func add(_ s: String, _ style: PanelLine.Style = .normal) { lines.append(PanelLine(s, style)) }
        let it = item
        add("Item \(position + 1) of \(items.count) · \(answeredCount) answered\(quiz ? " · quiz" : "")", .bold)
        add("File   " + shell.clips[it.clip].displayName)
        if let f = it.item.frame { add("Frame  \(f)/\(shell.frameCount)") }
        else { add(shell.isPlaying ? String(format: "Clip   ▶ looping %.3g fps (whole video)", shell.framesPerSecond) : "Clip   ❚❚ paused (frame \(shell.frame); whole video)", shell.isPlaying ? .accent : .dim) }

        add("Your answer" + (storedAnswer != nil ? " (locked)" : " (not saved)"), .bold)
        lines += labelLines(draft, style: storedAnswer != nil ? .ok : .accent)
        if !revealed {
            add("Answers hidden until you lock yours", .warning)
            add("  (\(shell.keymap.label(for: .commitAnswer)): lock and reveal)", .dim)
            return lines
        }
        // Why the item is in the queue.
        for e in it.entries {
            let who = e.kind == .modelVsReference ? "model vs \(SafeText.sanitize(e.first))" : "\(SafeText.sanitize(e.first)) vs \(SafeText.sanitize(e.second))"
            add("Disagree: \(who) on " + e.differences.map { $0.field.rawValue }.joined(separator: ", "), e.confidentError ? .warning : .dim)
        }
        if let c = context {
            add("Reference (\(SafeText.sanitize(c.reference.name)))", .bold)
            lines += c.reference.labels.isEmpty ? [PanelLine("  no labels on this item", .dim)] : labelLines(c.reference.labels, compare: draft)
            for o in c.others.prefix(3) {
                add("Also: \(SafeText.sanitize(o.name))", .bold)
                lines += labelLines(o.labels, compare: c.reference.labels)
            }
            if c.others.count > 3 { add("  … and \(c.others.count - 3) more humans", .dim) }
        }
        if let m = modelAnswer {
            add("Model \(model?.sha256 == m.model ? model!.name : String(m.model.prefix(12)))" + (m.frames > 1 ? " (\(m.frames) frames)" : ""), .bold)
            if m.seenInTraining { add("  seen in training: not an independent opinion", .warning) }
            if let s = m.severity { add(String(format: "  severity %d  (p %.2f)", s.value, s.confidence)) }
            for field in [ReviewField.aLines, .bLines, .b1Lines, .b2Lines, .consolidation] {
                guard let p = m.findings[field] else { continue }
                add(String(format: "  %@ %@  (p %.2f)", field.displayName, p >= 0.5 ? "yes" : "no", p))
            }
            if let t = m.topClass { add(String(format: "  class %@  (p %.2f)", SafeText.sanitize(t.name), t.probability), .dim) }
        } else {
            add("Model: no prediction stored for this item (pleura infer)", .dim)
        }
        if model == nil { add("Heatmap: off — " + (modelProblem ?? "no model"), .dim) }
        else if let t = mapTarget() {
            add("Heatmap: \(mapClass == .model ? "model's" : "reference's") class (\(t.head) \(SafeText.sanitize(t.className)))" + (showsMap ? "" : " — off"), .dim)
        }
        if let p = mapProblem { add("  no heatmap: " + p, .warning) }
        let flags = marks(.referenceFlag).count, notes = marks(.note)
        if !marks(.reviewed).isEmpty { add("Marked reviewed", .ok) }
        if flags > 0 { add("Flagged: the reference may be wrong", .warning) }
        if let n = notes.last?.comment { add("Note: \"" + SafeText.sanitize(n) + "\"", .dim) }
        return lines
    }

    /// A label set as panel lines (schema fields only), ✓/✗ against another set when given.
    func labelLines(_ l: LabelSet, style: PanelLine.Style = .normal, compare: LabelSet? = nil) -> [PanelLine] {
        var out: [PanelLine] = []
        func mark(_ same: Bool?) -> String { same.map { $0 ? "  ✓" : "  ✗" } ?? "" }
        if schema.severity {
            let s = l.severity
            let same: Bool? = compare.flatMap { c in c.severity.flatMap { cs in s.map { $0 == cs } } }
            out.append(PanelLine("  severity " + (s.map { String($0.rawValue) } ?? "–") + mark(same), style))
        }
        let shown = schema.findings.map { f -> String in
            let v = l[f]
            let same: Bool? = compare.flatMap { c in c[f].flatMap { cv in v.map { $0 == cv } } }
            return "\(Self.short(f)) " + (v.map { $0 ? "yes" : "no" } ?? "–") + (same == false ? "✗" : "")
        }
        for chunk in stride(from: 0, to: shown.count, by: 2) {
            out.append(PanelLine("  " + shown[chunk..<min(shown.count, chunk + 2)].joined(separator: "   "), style))
        }
        return out
    }

    static func short(_ f: Finding) -> String {
        switch f {
        case .aLines: return "A-lines"
        case .b1Lines: return "B1"
        case .b2Lines: return "B2"
        case .consolidation: return "consol."
        }
    }

    func progressPanel(_ shell: Shell) -> [PanelLine] {
        var lines: [PanelLine] = [PanelLine("Progress of \(SafeText.sanitize(progress.trainee))", .bold)]
        func add(_ s: String, _ style: PanelLine.Style = .normal) { lines.append(PanelLine(s, style)) }
        func pct(_ d: Double?) -> String { d.map { String(format: "%3.0f%%", $0 * 100) } ?? "  –" }
        func num(_ d: Double?) -> String { d.map { String(format: "%.2f", $0) } ?? "–" }
        add("\(progress.items) items answered, \(progress.reviewed) reviewed, \(progress.flags) flagged")
        guard !progress.fields.isEmpty else {
            add("No answers yet: answer an item and lock it", .dim)
            return lines
        }
        add("Agreement with the reference", .bold)
        for f in progress.fields {
            let extra = f.field == .severity ? "QWK \(num(f.quadraticKappa))" : "κ \(num(f.cohenKappa)) F1 \(num(f.f1))"
            add("  \(TextWidth.pad(f.field.rawValue, to: 14))\(pct(f.agreement)) n\(f.n) \(extra)")
        }
        if let sev = progress.fields.first(where: { $0.field == .severity }) {
            // Severity confusion: rows the reference, columns the trainee.
            add("Severity: reference ↓ × you →", .bold)
            add("       0   1   2   3", .dim)
            for (r, row) in sev.confusion.enumerated() {
                add("  \(r)  " + row.map { TextWidth.pad(String($0), to: 4) }.joined())
            }
        }
        add("Over time (per day)", .bold)
        // Blinded sessions show no dates (a date can tell a clip apart): days are counted instead.
        let periods = progress.periods
        for (i, p) in periods.enumerated().suffix(8) {
            let day = shell.session.blinding ? "day \(i + 1)" : p.day
            add("  \(day) \(p.items) items \(pct(p.agreement)) sev QWK \(num(p.severityQuadraticKappa))")
        }
        add("(\(shell.keymap.label(for: .progress)): back to the item)", .dim)
        return lines
    }
}
