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

/// Draws the shell and its mode: title, image pane, side panel (the shell's lines around the
/// mode's ``ScreenMode/panel(_:)``), message line, and a status line and `?` help built from the
/// active bindings, with keys from the keymap (never literals). The frame goes out through a
/// ``PaneImageEncoder`` in one place, ``sendFrame()``.
final class ShellScreen {
    let terminal: Terminal
    let shell: Shell
    let encoder: PaneImageEncoder
    private(set) var layout: ScreenLayout
    /// The last image's bytes and what they show, so a repaint after ncurses drew over the pane
    /// writes them again without decoding or encoding.
    private var cachedImage: (key: String, bytes: [UInt8])?
    /// The last playing frame written (nil after a still one), so a repeated frame is not resent.
    private var lastPlayedBytes: [UInt8]?
    /// Called after image bytes reached the terminal (benchmarks and tests hook in here).
    var onImageWritten: ((Int) -> Void)?
    /// A playing frame was due while the link was still busy: it goes out as soon as the link has
    /// drained (``linkDrainSeconds``), unless a newer frame replaces it first.
    private(set) var framePending = false
    /// The side panel's rows as last drawn (see ``drawText()``).
    private var drawnPanelRows: [String] = []
    /// Rows the model section always takes, so predictions appearing do not move the rows below.
    static let modelRows = 4   // two heads, the MC-dropout legend, the overlay

    init(terminal: Terminal, shell: Shell, encoder: PaneImageEncoder) {
        self.terminal = terminal
        self.shell = shell
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
        sendFrame()
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
        // Panel lines that moved: ncurses would show the move by scrolling those rows whole
        // width, dragging the picture along, and the part dragged below the picture stays there
        // (a strip of the old frame under review mode's revealed map). Repaint from a cleared
        // screen instead, then send the picture again.
        let moved = Self.rowsMoved(from: drawnPanelRows, to: rows)
        if moved { terminal.invalidate() }
        terminal.refresh()
        if moved { sendFrame() }
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
            "(\(shell.keymap.label(for: .quit)) quits; everything is saved.)",
        ]
        for (i, line) in lines.enumerated() {
            let row = max(0, layout.rows / 2 - 1 + i)
            let column = max(0, (layout.columns - TextWidth.width(line)) / 2)
            terminal.draw(line, row: row, column: column, style: i == 1 ? .warning : .normal)
        }
    }

    private func drawTitle() {
        let title = " Pleura · \(SafeText.sanitize(shell.session.name)) · \(shell.mode.title)"
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

    /// The panel's lines (also what tests read back from the screen): the shell's clip and
    /// player lines, the mode's panel, the model section (modes on the shell's overlay), the
    /// annotator, the mode's progress.
    func panelLines() -> [(String, Terminal.Style)] {
        Self.panelLines(for: shell).map { ($0.text, Self.style($0.style)) }
    }

    static func panelLines(for c: Shell) -> [PanelLine] {
        var lines: [PanelLine] = []
        func add(_ s: String, _ style: PanelLine.Style = .normal) { lines.append(PanelLine(s, style)) }
        if c.mode.kind == .label {
            add("File   " + c.clip.displayName, .bold)
            add("Clip   \(c.clipIndex + 1) of \(c.clips.count)")
            let sampled = c.frameIsSampled ? "" : "  (not sampled)"
            add("Frame  \(c.frame)/\(c.frameCount)" + sampled)
            let state = c.isPlaying ? String(format: "▶ playing %.3g fps", c.framesPerSecond) : "❚❚ paused"
            add("       \(state)", c.isPlaying ? .accent : .dim)
        }
        lines += c.mode.panel(c)
        if c.mode.usesShellOverlay {
            var model = modelLines(for: c)
            while model.count < modelRows { model.append(PanelLine("")) }
            lines += model
        }
        add("")
        add("Annotator " + SafeText.sanitize(c.session.annotator) + " (uid \(getuid()))")
        lines += c.mode.progressLines(c)
        return lines
    }

    static func style(_ s: PanelLine.Style) -> Terminal.Style {
        switch s {
        case .normal: return .normal
        case .bold: return .bold
        case .dim: return .dim
        case .accent: return .accent
        case .warning: return .warning
        case .ok: return .ok
        case .reverse: return .reverse
        }
    }

    /// Predictions (unless the session is blinded) and the overlay's state, or why overlays are off.
    static func modelLines(for c: Shell) -> [PanelLine] {
        let keys = c.keymap
        var lines: [PanelLine] = []
        func add(_ s: String, _ style: PanelLine.Style = .normal) { lines.append(PanelLine(s, style)) }
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
                guard let summary = p.topSummary else { continue }
                add((i == 0 ? "Model  " : "       ") + summary)
            }
            if shown.contains(where: { !$0.spread.isEmpty }) { add("       (± MC-dropout sd, points)", .dim) }
        } else if let error = c.frameModelError {
            add("Model  error: " + error, .warning)
        } else if !c.modelIsReadyForClip {
            add("Model  looking at this clip…", .dim)
        } else {
            add("Model  (paused frames only)", .dim)
        }
        let o = c.overlay
        add("Overlay \(o.isOn ? "on" : "off") " + SafeText.sanitize(c.overlayDescription), o.isOn ? .accent : .normal)
        return lines
    }

    static func longName(_ f: Finding) -> String {
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
        let m = shell.message
        terminal.draw(TextWidth.pad(" " + m.text, to: layout.columns), row: layout.messageRow, column: 0,
                      style: m.isWarning ? .warning : (m.text.hasPrefix("saved") ? .ok : .normal))
    }

    /// The status line: the bindings marked for it, in binding order, as "keys short"; runs of
    /// bindings with the same short text (severity 0–3, rating points) are one entry "0-3 sev".
    func statusText() -> String { Self.statusText(for: shell) }

    static func statusText(for shell: Shell) -> String {
        let k = shell.keymap
        var parts: [String] = []
        let all = shell.bindings()
        var i = 0
        while i < all.count {
            let b = all[i]
            var j = i
            while j + 1 < all.count && all[j + 1].short == b.short && all[j + 1].action != b.action { j += 1 }
            let shown = all[i...j].contains { $0.onStatusLine } && b.disabled == nil
            if shown {
                let keys = j > i ? "\(k.label(for: b.action))-\(k.label(for: all[j].action))" : k.label(for: b.action)
                if keys != "unbound" { parts.append("\(keys) \(b.short)") }
            }
            i = j + 1
        }
        return " " + parts.joined(separator: "  ")
    }

    private func drawStatus() {
        let k = shell.keymap
        // Quit and help are always visible, whatever the width.
        let tail = "  \(k.label(for: .help)) help  \(k.label(for: .quit)) quit "
        var text = statusText()
        if TextWidth.width(text) > layout.columns {
            text = TextWidth.clip(String(text.dropLast(TextWidth.width(tail))), to: layout.columns - TextWidth.width(tail)) + tail
        }
        terminal.draw(TextWidth.pad(text, to: layout.columns), row: layout.statusRow, column: 0, style: .reverse)
    }

    // MARK: image

    /// The one place a frame goes to the terminal: encodes what the pane shows now (only when the
    /// frame, the pane or the overlay changed) and writes it. Playback pacing hooks in here.
    func sendFrame() {
        guard !layout.isTooSmall else { return }
        // Playing: a frame goes out only when the link has drained the last one (a dropped frame,
        // not a queue in front of the next key), at a quality that fits it; still frames get the
        // full quality (the key tells them apart, so stopping refines the frame on screen).
        let playing = shell.isPlaying
        framePending = false
        if playing, terminal.link.isBusy(now: Measure.now()) { framePending = true; return }
        let modeKey = (try? shell.mode.paneContent(shell))??.key
        let key = "\(shell.clipIndex)/\(shell.frame)/\(layout.imageColumns)x\(layout.imageRows)/\(modeKey ?? shell.overlayKey)"
            + (playing ? "/playing" : "")
        if cachedImage?.key != key {
            do {
                guard let content = try shell.displayContent() else { return }
                encoder.setPlayback(framesPerSecond: playing ? shell.framesPerSecond : nil, link: terminal.link)
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
        // A playing frame identical to the one on screen (a repeated frame) is not sent again.
        if playing, bytes == lastPlayedBytes { return }
        // A key typed while the frame was encoded is answered first (the frame would hold its
        // answer up for as long as the link takes to carry it); the frame may follow.
        if playing, keyIsWaiting() { framePending = true; return }
        lastPlayedBytes = playing ? bytes : nil
        terminal.writeImage(bytes, row: layout.imageRow, column: layout.imageColumn)
        onImageWritten?(bytes.count)
    }

    /// Seconds until the link has drained what was written, when a playing frame waits for it
    /// (nil: nothing waits).
    func linkDrainSeconds(now: Double) -> Double? {
        guard framePending, shell.isPlaying else { return nil }
        // Woken when the backlog is within the link meter's slack, when the frame may go.
        return max(0, terminal.link.backlogSeconds(now: now) - 0.009)
    }

    /// Whether the terminal has input ncurses has not read yet.
    private func keyIsWaiting() -> Bool {
        var pfd = pollfd(fd: terminal.descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) > 0
    }

    func clipChanged() {
        encoder.clipChanged()
        cachedImage = nil
    }

    // MARK: overlays

    /// The active mode's bindings in columns, each with its keys and long text, or why it is
    /// disabled now; any key closes it.
    func drawHelp() {
        terminal.erase()
        let k = shell.keymap
        terminal.fill(row: 0, column: 0, width: layout.columns, style: .title)
        terminal.draw(" Pleura keys (\(shell.mode.title)) — any key closes this", row: 0, column: 0, style: .title)
        let entries = Self.helpEntries(for: shell)
        let perColumn = max(1, layout.rows - 4)
        let columnsNeeded = (entries.count + perColumn - 1) / perColumn
        let columnWidth = layout.columns / max(1, columnsNeeded)
        for (i, entry) in entries.enumerated() {
            let col = (i / perColumn) * columnWidth
            let row = 2 + i % perColumn
            terminal.draw(TextWidth.pad(entry.keys, to: 10), row: row, column: col + 1, width: 10, style: entry.disabled ? .dim : .accent)
            terminal.draw(entry.text, row: row, column: col + 12, width: columnWidth - 13, style: entry.disabled ? .dim : .normal)
        }
        let sources = "keymap: " + k.sources.map { SafeText.sanitize($0) }.joined(separator: " + ")
            + " · frames are numbered from 0, as in the CSV export"
        terminal.draw(sources, row: layout.rows - 1, column: 1, style: .dim)
        terminal.invalidate()
        terminal.refresh()
    }

    /// One help line per binding of the active mode.
    static func helpEntries(for shell: Shell) -> [(keys: String, text: String, disabled: Bool)] {
        shell.bindings().map { b in
            (shell.keymap.label(for: b.action), b.long + (b.disabled.map { " — off now: " + $0 } ?? ""), b.disabled != nil)
        }
    }

    /// Shows a one-line prompt with the text typed so far and the cursor after it.
    func drawPrompt(_ prompt: Prompt, text: String) {
        let question = prompt.question
        let shown = SafeText.sanitize(text)
        terminal.draw(TextWidth.pad(" " + question + shown, to: layout.columns), row: layout.messageRow, column: 0, style: .accent)
        terminal.refresh()
        terminal.showCursor(true, row: layout.messageRow, column: min(layout.columns - 1, 1 + TextWidth.width(question + shown)))
    }
}
