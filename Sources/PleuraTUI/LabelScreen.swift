import Foundation
import PleuraCore

/// Where things go on the screen for a terminal size: title bar, image pane (left), side panel
/// (right), message line and status line (bottom).
struct ScreenLayout: Equatable {
    static let minimumColumns = 80
    static let minimumRows = 24
    static let panelWidth = 36

    var columns: Int
    var rows: Int

    var isTooSmall: Bool { columns < Self.minimumColumns || rows < Self.minimumRows }
    /// The image pane: rows 1 … rows-3, columns 0 … up to the panel's separator.
    var imageRow: Int { 1 }
    var imageColumn: Int { 0 }
    var imageRows: Int { rows - 3 }
    var imageColumns: Int { columns - Self.panelWidth - 1 }
    var separatorColumn: Int { imageColumns }
    var panelColumn: Int { imageColumns + 2 }
    var panelRows: Int { rows - 3 }
    var messageRow: Int { rows - 2 }
    var statusRow: Int { rows - 1 }
}

/// Draws the label mode: everything the ``LabelController`` knows, with keys taken from the
/// active keymap (never literals), and the frame through a ``PaneImageEncoder``.
final class LabelScreen {
    let terminal: Terminal
    let controller: LabelController
    let encoder: PaneImageEncoder
    private(set) var layout: ScreenLayout
    /// The last image's bytes and what they show, so a repaint after ncurses drew over the pane
    /// writes them again without decoding or encoding.
    private var cachedImage: (key: String, bytes: [UInt8])?
    /// Called after image bytes reached the terminal (benchmarks and tests hook in here).
    var onImageWritten: ((Int) -> Void)?
    /// The side panel's rows as last drawn (see ``drawText()``).
    private var drawnPanelRows: [String] = []

    init(terminal: Terminal, controller: LabelController, encoder: PaneImageEncoder) {
        self.terminal = terminal
        self.controller = controller
        self.encoder = encoder
        self.layout = ScreenLayout(columns: terminal.columns, rows: terminal.rows)
    }

    func relayout() {
        layout = ScreenLayout(columns: terminal.columns, rows: terminal.rows)
        cachedImage = nil
    }

    // MARK: whole screen

    /// Repaints every cell, then the image.
    func drawAll() {
        terminal.erase()
        if layout.isTooSmall { drawTooSmall(); terminal.refresh(); return }
        drawTitle()
        drawSeparator()
        drawnPanelRows = drawPanel()
        drawMessage()
        drawStatus()
        terminal.invalidate()
        terminal.refresh()
        drawImage()
    }

    /// Repaints the text around the image. The image is written again only when panel lines
    /// moved up or down: ncurses shows such a move by scrolling that part of the screen, whole
    /// rows wide, which moves (and blanks a row of) the picture it does not know about.
    func drawText() {
        if layout.isTooSmall { drawAll(); return }
        drawTitle()
        let rows = drawPanel()
        drawMessage()
        drawStatus()
        terminal.refresh()
        if Self.rowsMoved(from: drawnPanelRows, to: rows) { drawImage() }
        drawnPanelRows = rows
    }

    /// Whether some non-blank line of `new` stood at another row in `old` (a shift ncurses may
    /// draw by scrolling); lines changed in place are not a move.
    static func rowsMoved(from old: [String], to new: [String]) -> Bool {
        for (i, line) in new.enumerated() where !line.allSatisfy({ $0 == " " }) && (i >= old.count || old[i] != line) {
            if old.contains(line) { return true }
        }
        return false
    }

    private func drawTooSmall() {
        let lines = [
            "Pleura needs a window of at least \(ScreenLayout.minimumColumns)×\(ScreenLayout.minimumRows).",
            "This one is \(layout.columns)×\(layout.rows): make the window bigger.",
            "(\(controller.keymap.label(for: .quit)) quits; everything is saved.)",
        ]
        for (i, line) in lines.enumerated() {
            let row = max(0, layout.rows / 2 - 1 + i)
            let column = max(0, (layout.columns - TextWidth.width(line)) / 2)
            terminal.draw(line, row: row, column: column, style: i == 1 ? .warning : .normal)
        }
    }

    private func drawTitle() {
        let session = controller.session
        let title = " Pleura · \(SafeText.sanitize(session.name)) · label mode"
        terminal.fill(row: 0, column: 0, width: layout.columns, style: .title)
        terminal.draw(title, row: 0, column: 0, width: layout.columns, style: .title)
        let right = "\(encoder.name) "
        terminal.draw(right, row: 0, column: max(0, layout.columns - TextWidth.width(right)), style: .title)
    }

    private func drawSeparator() {
        for row in layout.imageRow..<(layout.imageRow + layout.imageRows) {
            terminal.draw("│", row: row, column: layout.separatorColumn, style: .dim)
        }
    }

    // MARK: side panel

    /// The panel's lines (also what tests read back from the screen).
    func panelLines() -> [(String, Terminal.Style)] {
        let c = controller
        let keys = c.keymap
        var lines: [(String, Terminal.Style)] = []
        func add(_ s: String, _ style: Terminal.Style = .normal) { lines.append((s, style)) }
        add("File   " + c.clip.displayName, .bold)
        add("Clip   \(c.clipIndex + 1) of \(c.clips.count)")
        let count = c.frameCount
        let sampled = c.frameIsSampled ? "" : "  (not sampled)"
        add("Frame  \(c.frame)/\(count)" + sampled)
        let state = c.isPlaying ? String(format: "▶ playing %.3g fps", c.framesPerSecond) : "❚❚ paused"
        add("       \(state)", c.isPlaying ? .accent : .dim)
        add(c.videoLevel ? "Labels WHOLE VIDEO (\(keys.label(for: .videoLevel)): frame)" : "Labels frame \(c.frame) (\(keys.label(for: .videoLevel)): video)",
            c.videoLevel ? .warning : .bold)
        let schema = c.session.schema
        for finding in Finding.allCases where schema.findings.contains(finding) {
            let mark: String
            switch c.labels[finding] {
            case true?: mark = "[x]"
            case false?: mark = "[ ]"
            case nil: mark = "[·]"
            }
            let action: Action = [.aLines: .toggleALines, .b1Lines: .toggleB1Lines, .b2Lines: .toggleB2Lines,
                                  .consolidation: .toggleConsolidation][finding]!
            add(" \(mark) \(TextWidth.pad(keys.label(for: action), to: 3)) \(Self.shortName(finding))", c.labels[finding] == true ? .ok : .normal)
        }
        if schema.severity {
            let sev = c.labels.severity.map { String($0.rawValue) } ?? "–"
            add(" Severity \(sev)   (\(keys.label(for: .severity0))–\(keys.label(for: .severity3)))")
        }
        if schema.quality {
            add(" Quality  \(c.labels.quality?.rawValue ?? "–")   (\(keys.label(for: .poorQuality)): poor)", c.labels.quality == .poor ? .warning : .normal)
        }
        if schema.note {
            add(" Note     " + (c.labels.note.map { "\"" + SafeText.sanitize($0) + "\"" } ?? "–"))
        }
        for line in Self.modelLines(for: c) { add(line.0, line.1) }
        add("")
        add("Annotator " + SafeText.sanitize(c.session.annotator) + " (uid \(getuid()))")
        let p = c.progress
        add("Progress  \(p.labelled)/\(p.total) frames labelled")
        if p.unopenedClips > 0 { add("          (+\(p.unopenedClips) clip\(p.unopenedClips == 1 ? "" : "s") still opening)", .dim) }
        let clipDone = c.clip.labelled.count
        add("This clip \(clipDone)/\(c.clip.sampledFrames.count)" + (c.unlabelledOnly ? "  · unlabelled only" : ""))
        if c.session.sampling != .everyFrame { add("Sampling  \(Self.describe(c.session.sampling))", .dim) }
        return lines
    }

    /// Predictions (unless the session is blinded) and the overlay's state, or why overlays are off.
    static func modelLines(for c: LabelController) -> [(String, Terminal.Style)] {
        let keys = c.keymap
        var lines: [(String, Terminal.Style)] = []
        func add(_ s: String, _ style: Terminal.Style = .normal) { lines.append((s, style)) }
        switch c.modelStatus {
        case .unavailable(let why):
            add("Overlay off: no usable model", .warning)
            add("  " + why, .dim)
            return lines
        case .loading:
            add("Model  loading…", .dim)
            add("Overlay off  (\(keys.label(for: .toggleOverlay)): on)", .dim)
            return lines
        case .notLoaded:
            add("Model  not loaded yet", .dim)
            add("Overlay off  (\(keys.label(for: .toggleOverlay)): on)", .dim)
            return lines
        case .loaded:
            break
        }
        if c.session.blinding {
            add("Model  predictions hidden (blinded)", .dim)
        } else if let predictions = c.currentPredictions() {
            let shown = predictions.filter { !$0.isMultilabel }.prefix(2)
            for (i, p) in shown.enumerated() {
                guard let top = p.ranked.first else { continue }
                add((i == 0 ? "Model  " : "       ") + "\(SafeText.sanitize(p.head)) \(SafeText.sanitize(top.name)) \(Int((top.probability * 100).rounded()))%")
            }
        } else if let error = c.frameModelError {
            add("Model  error: " + error, .warning)
        } else {
            add("Model  (paused frames only)", .dim)
        }
        let o = c.overlay
        add("Overlay \(o.isOn ? "on" : "off") " + SafeText.sanitize(c.overlayDescription), o.isOn ? .accent : .normal)
        return lines
    }

    static func shortName(_ f: Finding) -> String {
        switch f {
        case .aLines: return "A-lines"
        case .b1Lines: return "B1 separate B-lines"
        case .b2Lines: return "B2 confluent B-lines"
        case .consolidation: return "Consolidation"
        }
    }

    static func describe(_ s: Session.Sampling) -> String {
        switch s {
        case .everyFrame: return "every frame"
        case .everyNth(let n): return "every \(n)th frame"
        case .perClip(let n): return "\(n) frames per clip"
        }
    }

    /// Draws the side panel; returns its rows' texts as drawn.
    @discardableResult
    private func drawPanel() -> [String] {
        let width = layout.columns - layout.panelColumn
        let lines = panelLines()
        var drawn: [String] = []
        for row in 0..<layout.panelRows {
            let r = layout.imageRow + row
            let text = row < lines.count ? TextWidth.pad(lines[row].0, to: width) : String(repeating: " ", count: width)
            terminal.draw(text, row: r, column: layout.panelColumn, width: width, style: row < lines.count ? lines[row].1 : .normal)
            drawn.append(text)
        }
        return drawn
    }

    private func drawMessage() {
        let m = controller.message
        terminal.draw(TextWidth.pad(" " + m.text, to: layout.columns), row: layout.messageRow, column: 0,
                      style: m.isWarning ? .warning : (m.text.hasPrefix("saved") ? .ok : .normal))
    }

    /// The keys that work here, most used first, cut to the width.
    func statusText() -> String {
        let k = controller.keymap
        let items: [(Action, String)] = [
            (.nextFrame, "next"), (.previousFrame, "prev"), (.toggleALines, "A"), (.toggleB1Lines, "B1"),
            (.toggleB2Lines, "B2"), (.toggleConsolidation, "cons"), (.carryForward, "carry"), (.undo, "undo"),
            (.nextItem, "clip"), (.playPause, "play"), (.toggleOverlay, "overlay"), (.help, "help"), (.quit, "quit"),
        ]
        var parts = items.map { "\(k.label(for: $0.0)) \($0.1)" }
        parts.insert("\(k.label(for: .severity0))-\(k.label(for: .severity3)) sev", at: 6)
        return " " + parts.joined(separator: "  ")
    }

    private func drawStatus() {
        let k = controller.keymap
        // Quit and help are always visible, whatever the width.
        let tail = "  \(k.label(for: .help)) help  \(k.label(for: .quit)) quit "
        var text = statusText()
        if TextWidth.width(text) > layout.columns {
            text = TextWidth.clip(String(text.dropLast(TextWidth.width(tail))), to: layout.columns - TextWidth.width(tail)) + tail
        }
        terminal.draw(TextWidth.pad(text, to: layout.columns), row: layout.statusRow, column: 0, style: .reverse)
    }

    // MARK: image

    /// Writes the frame into the pane (re-encoding only when the frame or the pane changed).
    func drawImage() {
        guard !layout.isTooSmall else { return }
        let key = "\(controller.clipIndex)/\(controller.frame)/\(layout.imageColumns)x\(layout.imageRows)/\(controller.overlayKey)"
        if cachedImage?.key != key {
            do {
                guard let content = try controller.displayContent() else { return }
                let bytes = try encoder.encode(content, columns: layout.imageColumns, rows: layout.imageRows,
                                               origin: (layout.imageRow, layout.imageColumn))
                cachedImage = (key, bytes)
            } catch {
                cachedImage = nil
                let reason = (error as? PleuraError)?.description ?? SafeText.sanitize("\(error)")
                terminal.draw("cannot show this frame: " + reason, row: layout.imageRow + 1, column: 1,
                              width: layout.imageColumns - 2, style: .warning)
                terminal.refresh()
                return
            }
        }
        guard let bytes = cachedImage?.bytes else { return }
        terminal.writeImage(bytes, row: layout.imageRow, column: layout.imageColumn)
        onImageWritten?(bytes.count)
    }

    func clipChanged() {
        encoder.clipChanged()
        cachedImage = nil
    }

    // MARK: overlays

    /// The whole active keymap, in columns; any key closes it.
    func drawHelp() {
        terminal.erase()
        let k = controller.keymap
        terminal.fill(row: 0, column: 0, width: layout.columns, style: .title)
        terminal.draw(" Pleura keys (label mode) — any key closes this", row: 0, column: 0, style: .title)
        let entries = Action.allCases.map { (k.label(for: $0), $0.summary) }
        let perColumn = max(1, layout.rows - 4)
        let columnsNeeded = (entries.count + perColumn - 1) / perColumn
        let columnWidth = layout.columns / max(1, columnsNeeded)
        for (i, entry) in entries.enumerated() {
            let col = (i / perColumn) * columnWidth
            let row = 2 + i % perColumn
            terminal.draw(TextWidth.pad(entry.0, to: 10), row: row, column: col + 1, width: 10, style: .accent)
            terminal.draw(entry.1, row: row, column: col + 12, width: columnWidth - 13)
        }
        let sources = "keymap: " + k.sources.map { SafeText.sanitize($0) }.joined(separator: " + ")
            + " · frames are numbered from 0, as in the CSV export"
        terminal.draw(sources, row: layout.rows - 1, column: 1, style: .dim)
        terminal.invalidate()
        terminal.refresh()
    }

    /// Shows a one-line prompt with the text typed so far and the cursor after it.
    func drawPrompt(_ prompt: LabelController.Prompt, text: String) {
        let question = prompt.question
        let shown = SafeText.sanitize(text)
        terminal.draw(TextWidth.pad(" " + question + shown, to: layout.columns), row: layout.messageRow, column: 0, style: .accent)
        terminal.refresh()
        terminal.showCursor(true, row: layout.messageRow, column: min(layout.columns - 1, 1 + TextWidth.width(question + shown)))
    }
}
