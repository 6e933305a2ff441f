import CNcursesw
import Foundation
import PleuraCore
import PleuraRender

/// The ncurses screen on the controlling terminal, plus raw writes for images.
///
/// Opens `/dev/tty` (so stdout and stderr stay free for the shell), starts ncurses with `newterm`
/// in a UTF-8 locale, and hides every ncurses type from the rest of Pleura. Images are written
/// with ``writeImage(_:row:column:)`` after ``refresh()``: ncurses does not know they are there,
/// so the caller redraws them after anything ncurses paints over the pane (see ``ShellScreen``).
///
/// ```swift
/// let terminal = try Terminal.open()
/// defer { terminal.close() }
/// terminal.draw("hello", row: 0, column: 0, style: .bold)
/// terminal.refresh()
/// ```
final class Terminal {
    /// What one wait for input produced.
    enum Event: Equatable {
        case key(Key)
        case resize
        case signal(ProcessSignals.Kind)
        case timeout
    }

    enum Style {
        case normal, bold, dim, reverse, title, accent, warning, ok
    }

    /// How long a wait for input blocks at most, so signals are handled promptly (SIGTERM and
    /// SIGHUP must end the program within 1 s).
    static let pollInterval: Int32 = 100

    private let file: UnsafeMutablePointer<FILE>
    private let screen: OpaquePointer
    private let window: UnsafeMutablePointer<WINDOW>
    let descriptor: Int32
    private var closed = false
    private(set) var hasColour = false
    /// DECSDM as the terminal had it, and the bytes that put images at the cursor / restore it
    /// (see ``SixelPlacement``).
    private(set) var sixelDisplayMode: ModeState?
    private var placement: (start: [UInt8], restore: [UInt8]) = ([], [])
    /// How fast the terminal drains what Pleura writes (timed in ``writeAll(_:)``).
    let link = LinkMeter()

    private init(file: UnsafeMutablePointer<FILE>, screen: OpaquePointer, window: UnsafeMutablePointer<WINDOW>) {
        self.file = file
        self.screen = screen
        self.window = window
        self.descriptor = fileno(file)
    }

    /// The controlling terminal's descriptor opened for a capability probe before ncurses starts.
    static func openControllingTTY() throws -> UnsafeMutablePointer<FILE> {
        guard let f = fopen("/dev/tty", "r+") else {
            throw PleuraError(file: "/dev/tty", "no terminal to draw on (\(String(cString: strerror(errno)))); run pleura in a terminal or over ssh -t")
        }
        return f
    }

    /// Starts ncurses on `/dev/tty` (opened here unless given). Throws a clear error when there is
    /// no usable terminal; nothing has been drawn then.
    static func open(tty given: UnsafeMutablePointer<FILE>? = nil) throws -> Terminal {
        ensureUTF8Locale()
        let f = try given ?? openControllingTTY()
        let termName = ProcessInfo.processInfo.environment["TERM"] ?? ""
        if termName.isEmpty {
            throw PleuraError(file: "$TERM", "is not set; set it to your terminal's type (e.g. xterm-256color)")
        }
        // The terminal's own DECSDM setting, asked before ncurses reads the terminal.
        let displayMode = TerminalProbe.sixelDisplayMode(fd: fileno(f))
        let placement = SixelPlacement.plan(for: displayMode)
        ProcessSignals.install(tty: fileno(f), restore: placement.restore)
        guard let screen = newterm(nil, f, f) else {
            ProcessSignals.uninstall()
            throw PleuraError(file: "$TERM", "'\(SafeText.sanitize(termName))' is unknown to ncurses (no terminfo entry); try TERM=xterm-256color")
        }
        set_term(screen)
        guard let window = pleura_stdscr() else {
            endwin(); delscreen(screen); ProcessSignals.uninstall()
            throw PleuraError(file: "/dev/tty", "ncurses started without a screen")
        }
        let terminal = Terminal(file: f, screen: screen, window: window)
        terminal.sixelDisplayMode = displayMode
        terminal.placement = placement
        terminal.writeAll(placement.start)
        cbreak()               // keys arrive one by one; Ctrl-C/Ctrl-Z still raise signals
        noecho()
        nonl()
        keypad(window, true)
        set_escdelay(25)       // Escape alone must not wait a whole second
        curs_set(0)
        wtimeout(window, Terminal.pollInterval)
        terminal.startColours()
        return terminal
    }

    /// ncursesw needs a UTF-8 LC_CTYPE for `▀`, `→` and non-ASCII file names; tmux and ssh often
    /// start programs with LANG unset, so fall back to C.UTF-8.
    private static func ensureUTF8Locale() {
        setlocale(LC_ALL, "")
        let codeset = String(cString: nl_langinfo(nl_item(CODESET)))
        if codeset.uppercased().replacingOccurrences(of: "-", with: "") != "UTF8" {
            if setlocale(LC_CTYPE, "C.UTF-8") == nil { _ = setlocale(LC_CTYPE, "en_US.UTF-8") }
        }
    }

    private func startColours() {
        let env = ProcessInfo.processInfo.environment
        guard has_colors(), env["NO_COLOR"] == nil else { return }
        start_color()
        use_default_colors()
        init_pair(1, Int16(COLOR_WHITE), Int16(COLOR_BLUE))    // title bar
        init_pair(2, Int16(COLOR_CYAN), -1)                    // accents (keys)
        init_pair(3, Int16(COLOR_YELLOW), -1)                  // warnings
        init_pair(4, Int16(COLOR_GREEN), -1)                   // saved / present
        hasColour = true
    }

    var rows: Int { Int(getmaxy(window)) }
    var columns: Int { Int(getmaxx(window)) }

    /// The terminal's size in pixels as the kernel reports it (TIOCGWINSZ), or nil.
    var pixelSize: (width: Int, height: Int)? {
        var ws = winsize()
        guard ioctl(descriptor, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_xpixel > 0, ws.ws_ypixel > 0 else { return nil }
        return (Int(ws.ws_xpixel), Int(ws.ws_ypixel))
    }

    func erase() { werase(window) }

    /// Draws text clipped to `width` columns (default: to the right edge). Text from outside
    /// Pleura must already be sanitised; this clips by display width.
    func draw(_ text: String, row: Int, column: Int, width: Int? = nil, style: Style = .normal) {
        guard row >= 0, row < rows, column >= 0, column < columns else { return }
        let limit = min(width ?? (columns - column), columns - column)
        guard limit > 0 else { return }
        let clipped = TextWidth.clip(text, to: limit)
        let attributes = attributes(for: style)
        if attributes != 0 { wattron(window, attributes) }
        mvwaddstr(window, Int32(row), Int32(column), clipped)
        if attributes != 0 { wattroff(window, attributes) }
    }

    /// Fills a row span with spaces in a style (for bars).
    func fill(row: Int, column: Int, width: Int, style: Style) {
        draw(String(repeating: " ", count: max(0, width)), row: row, column: column, width: width, style: style)
    }

    private func attributes(for style: Style) -> Int32 {
        switch style {
        case .normal: return 0
        case .bold: return pleura_a_bold()
        case .dim: return pleura_a_dim()
        case .reverse: return pleura_a_reverse()
        case .title: return hasColour ? pleura_color_pair(1) | pleura_a_bold() : pleura_a_reverse()
        case .accent: return hasColour ? pleura_color_pair(2) | pleura_a_bold() : pleura_a_bold()
        case .warning: return hasColour ? pleura_color_pair(3) | pleura_a_bold() : pleura_a_bold()
        case .ok: return hasColour ? pleura_color_pair(4) : 0
        }
    }

    /// Sends the drawn screen to the terminal.
    func refresh() { wrefresh(window) }

    /// Makes the next ``refresh()`` repaint every cell (after an image was overdrawn, or on resume).
    func invalidate() { clearok(window, true) }

    /// Shows or hides the text cursor (for prompts).
    func showCursor(_ visible: Bool, row: Int = 0, column: Int = 0) {
        curs_set(visible ? 1 : 0)
        if visible { wmove(window, Int32(row), Int32(column)) }
    }

    /// Writes terminal graphics (sixel or half-block escape sequences) with its top-left corner at
    /// a cell, saving and restoring the cursor so ncurses' idea of it stays right.
    func writeImage(_ bytes: [UInt8], row: Int, column: Int) {
        var out: [UInt8] = Array("\u{1B}7\u{1B}[\(row + 1);\(column + 1)H".utf8)
        out += bytes
        out += Array("\u{1B}8".utf8)
        writeAll(out)
    }

    /// Writes raw bytes to the terminal (everything, retrying short writes). The time the write
    /// took goes to ``link``: a write blocks while the terminal (or the SSH link in front of it)
    /// has not drained what came before, which is how the link's speed shows.
    func writeAll(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        fflush(file)
        let start = Measure.now()
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; return }
                offset += n
            }
        }
        link.recordWrite(bytes: bytes.count, start: start, end: Measure.now())
    }

    /// Waits up to `milliseconds` (capped at ``pollInterval``) for a key, a resize or a signal.
    func nextEvent(timeout milliseconds: Int) -> Event {
        if let signal = ProcessSignals.take().first { return .signal(signal) }
        wtimeout(window, Int32(max(0, min(milliseconds, Int(Terminal.pollInterval)))))
        var ch: wint_t = 0
        let rc = wget_wch(window, &ch)
        if let signal = ProcessSignals.take().first {
            if rc != ERR, let key = Terminal.key(rc: rc, code: ch) { pushedBack.append(key) }
            return .signal(signal)
        }
        if rc == ERR { return pushedBack.isEmpty ? .timeout : .key(pushedBack.removeFirst()) }
        if rc == KEY_CODE_YES && Int32(ch) == KEY_RESIZE { return .resize }
        guard let key = Terminal.key(rc: rc, code: ch) else { return .timeout }
        return .key(key)
    }
    private var pushedBack: [Key] = []

    /// Maps ncurses' report of a key to Pleura's ``Key``.
    static func key(rc: Int32, code: wint_t) -> Key? {
        if rc == KEY_CODE_YES {
            switch Int32(code) {
            case KEY_LEFT: return .named(.left)
            case KEY_RIGHT: return .named(.right)
            case KEY_UP: return .named(.up)
            case KEY_DOWN: return .named(.down)
            case KEY_HOME, KEY_A1: return .named(.home)
            case KEY_END, KEY_C1: return .named(.end)
            case KEY_PPAGE, KEY_A3: return .named(.pageUp)
            case KEY_NPAGE, KEY_C3: return .named(.pageDown)
            case KEY_IC: return .named(.insert)
            case KEY_DC: return .named(.delete)
            case KEY_BACKSPACE: return .named(.backspace)
            case KEY_ENTER: return .named(.enter)
            case KEY_BTAB: return .named(.tab)
            case let c where c > KEY_F0 && c <= KEY_F0 + 12:
                return Key.Named(rawValue: "F\(c - KEY_F0)").map(Key.named)
            default: return nil
            }
        }
        switch code {
        case 27: return .named(.escape)
        case 10, 13: return .named(.enter)
        case 9: return .named(.tab)
        case 8, 127: return .named(.backspace)
        case 32: return .named(.space)
        case 1...26: return .control(Character(Unicode.Scalar(UInt8(code) + 96)))
        default:
            guard let scalar = Unicode.Scalar(UInt32(code)), !SafeText.isUnsafe(scalar) else { return nil }
            return .character(Character(scalar))
        }
    }

    /// Gives the terminal back to the shell for Ctrl-Z; ``resume()`` takes it again.
    func suspend() {
        endwin()
        writeAll(placement.restore)
    }

    func resume() {
        writeAll(placement.start)
        invalidate()
        refresh()
    }

    /// Restores the terminal (idempotent). Every exit path calls this.
    func close() {
        guard !closed else { return }
        closed = true
        // Blank every cell first: image cells ncurses does not know about (half-blocks written
        // raw, a picture drawn before a resize) must not stay behind on terminals, or tmux
        // panes, that keep the screen after the program ends.
        werase(window)
        clearok(window, true)
        wrefresh(window)
        endwin()
        writeAll(placement.restore)
        delscreen(screen)
        fclose(file)
        ProcessSignals.uninstall()
    }

    deinit { close() }
}

/// Display width of text in terminal columns (wide CJK characters count 2, combining marks 0).
enum TextWidth {
    static func width(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { $0 + max(0, Int(pleura_wcwidth($1.value))) }
    }

    /// The longest prefix that fits `columns`, with `…` when something was cut.
    static func clip(_ text: String, to columns: Int) -> String {
        guard columns > 0 else { return "" }
        if width(text) <= columns { return text }
        var out = String.UnicodeScalarView()
        var used = 0
        for scalar in text.unicodeScalars {
            let w = max(0, Int(pleura_wcwidth(scalar.value)))
            if used + w > columns - 1 { break }
            out.append(scalar)
            used += w
        }
        return String(out) + "…"
    }

    /// Pads with spaces to exactly `columns` (clipping when longer).
    static func pad(_ text: String, to columns: Int) -> String {
        let clipped = clip(text, to: columns)
        return clipped + String(repeating: " ", count: max(0, columns - width(clipped)))
    }
}
