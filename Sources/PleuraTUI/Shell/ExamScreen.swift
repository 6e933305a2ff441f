import Foundation
import PleuraCore

/// The exam overview screen: one exam's zones as a grid laid out like the protocol (the patient's
/// right side on the left, posterior → lateral → anterior → lateral → posterior; upper zones on
/// top), each cell with its zone score, clips and labelled state. Arrows move, Enter jumps to the
/// zone's first clip in the labelling screen, the next/previous clip keys switch exam, Escape
/// (or the exam key, or quit) goes back.
struct ExamScreen {
    let screen: ShellScreen
    let mode: LabelMode

    static let cellWidth = 13
    static let cellHeight = 5
    /// Rows needed: title, exam, score, column titles, the grid, unzoned clips, message, 2 key rows.
    static func minimumRows(_ o: ExamOverview) -> Int { 4 + o.rows * cellHeight + 4 }

    /// Runs until the user leaves; returns the clip to jump to (nil: back where they were) or how
    /// the program ends (a signal).
    func run() -> (jump: Int?, ending: ShellApp.Ending?) {
        let shell = screen.shell
        var overview: ExamOverview
        do {
            guard let o = try mode.examOverview(shell) else { return (nil, nil) }
            overview = o
        } catch {
            shell.say("cannot show the exam: " + ((error as? PleuraError)?.reason ?? SafeText.sanitize("\(error)")), warning: true)
            return (nil, nil)
        }
        // Start on the zone of the clip on screen.
        var cursor = overview.cells.firstIndex { $0.clips.contains(shell.clipIndex) } ?? 0
        var message = "zone \(overview.cells.indices.contains(cursor) ? overview.cells[cursor].zone.name : "–")"
        draw(overview, cursor: cursor, message: message)
        let keys = shell.keymap
        while true {
            let event = screen.terminal.nextEvent(timeout: Int(Terminal.pollInterval))
            switch event {
            case .signal(.terminate(let sig)): return (nil, .signal(sig))
            case .signal(.suspend): continue
            case .resize:
                screen.relayout()
                draw(overview, cursor: cursor, message: message)
                continue
            case .timeout:
                continue
            case .key(let key):
                let action = keys.action(for: key, in: .label)
                var newExam: Int? = nil
                switch key {
                case .named(.left): cursor = overview.move(from: cursor, dx: -1, dy: 0)
                case .named(.right): cursor = overview.move(from: cursor, dx: 1, dy: 0)
                case .named(.up): cursor = overview.move(from: cursor, dx: 0, dy: -1)
                case .named(.down): cursor = overview.move(from: cursor, dx: 0, dy: 1)
                case .named(.escape): return (nil, nil)
                case .named(.enter):
                    guard overview.cells.indices.contains(cursor), let first = overview.cells[cursor].clips.first else {
                        message = "zone \(overview.cells.indices.contains(cursor) ? overview.cells[cursor].zone.name : "–") has no clip in this exam"
                        draw(overview, cursor: cursor, message: message)
                        continue
                    }
                    let c = overview.cells[cursor]
                    shell.say("zone \(c.zone.name) (\(c.zone.meaning)): " + (c.clips.count == 1 ? "its clip"
                              : "clip 1 of \(c.clips.count) (\(c.clips.map { shell.clips[$0].displayName }.joined(separator: ", ")))"))
                    return (first, nil)
                default:
                    switch action {
                    case .quit?, .examOverview?: return (nil, nil)
                    case .nextItem?: newExam = (overview.examIndex + 1) % overview.exams.count
                    case .previousItem?: newExam = (overview.examIndex + overview.exams.count - 1) % overview.exams.count
                    default:
                        message = "key \(key.shortLabel) does nothing here; the keys are below"
                        draw(overview, cursor: cursor, message: message)
                        continue
                    }
                }
                if let newExam, let o = try? mode.examOverview(shell, examIndex: newExam) {
                    overview = o
                    cursor = min(cursor, max(0, o.cells.count - 1))
                }
                message = overview.cells.indices.contains(cursor)
                    ? "zone \(overview.cells[cursor].zone.name): \(overview.cells[cursor].zone.meaning)" : ""
                draw(overview, cursor: cursor, message: message)
            }
        }
    }

    /// The keys line of this screen, from the keymap where the action has keys.
    func keyLine() -> String {
        let k = screen.shell.keymap
        return "←↑↓→ zone · Enter open its clips · \(k.label(for: .nextItem))/\(k.label(for: .previousItem)) next/previous exam · Esc/\(k.label(for: .examOverview)) back"
    }

    func draw(_ o: ExamOverview, cursor: Int, message: String) {
        let t = screen.terminal
        let columns = screen.layout.columns, rows = screen.layout.rows
        t.erase()
        t.fill(row: 0, column: 0, width: columns, style: .title)
        let session = screen.shell.session
        t.draw(" Pleura exam overview — \(SafeText.sanitize(session.name)) (\(o.exams.count) exam\(o.exams.count == 1 ? "" : "s"))",
               row: 0, column: 0, width: columns, style: .title)
        let exam = o.exams[o.examIndex]
        let examName = exam.patient.isEmpty ? "clips no pattern placed" : exam.shortName
        let proto = mode.exams?.settings.zoneProtocol.name ?? ""
        t.draw(" Exam \(o.examIndex + 1) of \(o.exams.count): \(examName) · protocol \(proto)", row: 1, column: 0, width: columns, style: .bold)
        t.draw(" " + o.scoreLine, row: 2, column: 0, width: columns, style: .accent)
        let width = min(Self.cellWidth, max(8, (columns - 2) / max(1, o.columns)))
        guard rows >= Self.minimumRows(o), columns >= width * o.columns + 2 else {
            t.draw(" the terminal is too small for this grid (\(columns)x\(rows)); make it bigger", row: 4, column: 0, width: columns, style: .warning)
            t.draw(" " + keyLine(), row: rows - 1, column: 0, width: columns, style: .reverse)
            t.refresh()
            return
        }
        for (i, title) in o.columnTitles.prefix(o.columns).enumerated() {
            t.draw(TextWidth.pad(title, to: width - 1), row: 3, column: 1 + i * width, width: width - 1, style: .dim)
        }
        for (i, c) in o.cells.enumerated() {
            let top = 4 + c.row * Self.cellHeight, left = 1 + c.column * width
            let style: Terminal.Style = i == cursor ? .reverse : .normal
            let state: String
            if c.clips.isEmpty { state = "no clip" }
            else if c.unopened > 0 && c.sampledFrames == 0 { state = "not open yet" }
            else if c.labelledFrames == 0 { state = "unlabelled" }
            else if c.labelledFrames >= c.sampledFrames && c.unopened == 0 { state = "labelled" }
            else { state = "\(c.labelledFrames)/\(c.sampledFrames) done" }
            let lines = [" \(c.zone.name)", " score " + (c.score.map(ExamNumber.text) ?? "–"),
                         " \(c.clips.count) clip\(c.clips.count == 1 ? "" : "s")", " " + state]
            for (j, line) in lines.enumerated() {
                t.draw(TextWidth.pad(TextWidth.clip(line, to: width - 1), to: width - 1), row: top + j, column: left, width: width - 1,
                       style: j == 0 && i != cursor ? .bold : (c.labelledFrames > 0 && j == 3 && i != cursor ? .ok : style))
            }
        }
        let below = 4 + o.rows * Self.cellHeight
        if !o.unzoned.isEmpty {
            let names = o.unzoned.map { screen.shell.clips[$0].displayName }.joined(separator: ", ")
            t.draw(TextWidth.clip(" no zone: \(names) (set one with \(screen.shell.keymap.label(for: .setZone)) in the labelling screen)", to: columns),
                   row: below, column: 0, width: columns, style: .warning)
        }
        t.draw(TextWidth.pad(" " + message, to: columns), row: rows - 2, column: 0, width: columns, style: .normal)
        t.draw(TextWidth.pad(" " + keyLine(), to: columns), row: rows - 1, column: 0, width: columns, style: .reverse)
        t.invalidate()
        t.refresh()
    }
}
