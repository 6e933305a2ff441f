import Foundation
import PleuraCore
import PleuraRender
import PleuraStore

/// Rate mode's side panel: a pure function of the mode's state (the shell draws it).
extension RateMode {

    public func panel(_ shell: Shell) -> [PanelLine] {
        var lines: [PanelLine] = []
        func add(_ s: String, _ style: PanelLine.Style = .normal) { lines.append(PanelLine(s, style)) }
        let it = item
        add("Item \(position + 1) of \(items.count) · \(finishedCount) done", .bold)
        if !blinded { add("File   " + shell.clips[it.clip].displayName) }
        if let f = it.frame { add("Frame  \(f)" + (blinded ? "" : "/\(shell.frameCount)")) }
        else { add(shell.isPlaying ? String(format: "Clip   ▶ looping %.3g fps", shell.framesPerSecond) : "Clip   ❚❚ paused (frame \(shell.frame))", shell.isPlaying ? .accent : .dim) }
        if !blinded, let maps = resolved[it.trialID] {
            for (i, m) in maps.enumerated() {
                let v = settings.variants[it.variants[i]]
                add("Map\(maps.count == 2 ? (i == 0 ? " A" : " B") : "")  \(Self.shortModel(v.model)) \(v.method.rawValue) \(SafeText.sanitize(m.className))", .dim)
            }
        }
        if let f = preparedFraction(it) { add("Maps   being prepared: \(Int(f * 100)) % (raw frame meanwhile)", .warning) }
        else if unprepared[it.trialID] != nil { add("Maps   could not be made (see below)", .warning) }
        if showsRaw { add("Showing the raw frame", .warning) }
        if answers.maps.count == 2 { add("Left = A, right = B") }
        let first = scale.points.first!, last = scale.points.last!
        add("How helpful is the heatmap?", .bold)
        add(" \(Self.signed(first.rawValue)) \(first.meaning) …", .dim)
        add(" … \(Self.signed(last.rawValue)) \(last.meaning)", .dim)
        let keys = [Action.ratePoint1, .ratePoint2, .ratePoint3, .ratePoint4, .ratePoint5, .ratePoint6, .ratePoint7].prefix(scale.points.count)
        for (qi, q) in questions.enumerated() {
            let isFocus = qi == min(focus, questions.count - 1)
            let pointer = isFocus ? "▸" : " "
            switch q {
            case .rating(let m):
                let saved = answers.maps[m].rating
                add("\(pointer)\(answers.maps.count == 2 ? "Map \(mapName(m)) " : "")rating: " + (saved.map { "\(Self.signed($0.rawValue)) \($0.meaning)" } ?? "–"),
                    isFocus ? .accent : (saved == nil ? .normal : .ok))
                // The scale is always on screen: keys, values, the saved point (●) and, when
                // this question has the focus, the cursor (▲) with its anchor words.
                add("  " + keys.map { TextWidth.pad(shell.keymap.keys(for: $0).first?.shortLabel ?? "·", to: 4) }.joined(), .dim)
                add("  " + scale.points.map { TextWidth.pad(Self.signed($0.rawValue), to: 4) }.joined())
                add("  " + scale.points.indices.map { i in
                    let here = isFocus && i == cursor
                    return TextWidth.pad(here ? (scale.points[i] == saved ? "▲●" : "▲") : (scale.points[i] == saved ? "●" : " "), to: 4)
                }.joined())
                if isFocus { add("  ▲ \(Self.signed(scale.points[cursor].rawValue)) \(scale.points[cursor].meaning)", .dim) }
            case .highlighted(let m):
                add("\(pointer)Highlighted (\(mapName(m))): " + Self.describe(answers.maps[m].highlighted), isFocus ? .accent : .normal)
                if isFocus { lines += checklist(answers.maps[m].highlighted) }
            case .visible:
                add("\(pointer)Visible: " + Self.describe(answers.visible), isFocus ? .accent : .normal)
                if isFocus { lines += checklist(answers.visible) }
            case .better:
                add("\(pointer)Better: " + (answers.better.map(betterText) ?? "–"), isFocus ? .accent : .normal)
                if isFocus {
                    add("  " + Self.betterChoices.enumerated().map { i, c in (i == cursor ? "▸" : " ") + (c == .equal ? "same" : c.rawValue) + (answers.better == c ? "●" : " ") }.joined(separator: "  "))
                }
            case .classGuess:
                add("\(pointer)Class guess: " + (answers.classGuess.map { SafeText.sanitize($0) } ?? "–"), isFocus ? .accent : .normal)
                if isFocus, !guessClasses.isEmpty { add("  ‹ \(SafeText.sanitize(guessClasses[cursor])) ›  (←/→, Enter)") }
            case .comment:
                add("\(pointer)Comment (\(shell.keymap.label(for: .comment))): " + (answers.comment.map { "\"" + SafeText.sanitize($0) + "\"" } ?? "–"), isFocus ? .accent : .normal)
            }
        }
        return lines
    }

    private func checklist(_ set: Set<RatingPattern>?) -> [PanelLine] {
        let all = RatingPattern.allCases
        func cell(_ i: Int) -> String {
            (i == cursor ? "▸" : " ") + ((set ?? []).contains(all[i]) ? "■" : "□") + Self.shortPattern(all[i])
        }
        return stride(from: 0, to: all.count, by: 3).map { start in
            PanelLine(" " + (start..<min(all.count, start + 3)).map { TextWidth.pad(cell($0), to: 11) }.joined())
        }
    }

    static func shortPattern(_ p: RatingPattern) -> String {
        switch p {
        case .aLines: return "A-lines"
        case .bLines: return "B-lines"
        case .consolidation: return "consol."
        case .pleuralLine: return "pleura"
        case .effusion: return "effusion"
        case .otherTissue: return "other"
        }
    }

    public func progressLines(_ shell: Shell) -> [PanelLine] {
        [PanelLine("Progress  \(finishedCount)/\(items.count) items rated")]
    }
}
