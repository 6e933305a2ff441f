import Foundation
import PleuraCore

/// What the user asked for with `--graphics` (nil: decide from the probe). The command-line
/// spelling of ``off`` is `none`; the case is not called `none` because `GraphicsMode?.none`
/// would read as nil.
public enum GraphicsMode: String, CaseIterable, Sendable {
    case sixel, halfblock
    case off = "none"
}

/// How images will be drawn, with the reason (for `pleura doctor` and the status line).
public enum GraphicsChoice: Equatable, Sendable {
    case sixel
    case halfBlocks(HalfBlockMode)
    /// No images (`--graphics none`).
    case off

    public var name: String {
        switch self {
        case .sixel: return "sixel"
        case .halfBlocks(let m): return "half-blocks (\(m == .ansi256 ? "256 colours" : m == .truecolor ? "truecolor" : "no colour"))"
        case .off: return "none"
        }
    }
}

/// A DEC private mode's state as DECRQM (`CSI ? Pd $ p`) reports it (`CSI ? Pd ; Ps $ y`).
public enum ModeState: Int, Sendable {
    case notRecognised = 0, set = 1, reset = 2, permanentlySet = 3, permanentlyReset = 4

    public var name: String {
        switch self {
        case .notRecognised: return "not recognised"
        case .set: return "set"
        case .reset: return "reset"
        case .permanentlySet: return "permanently set"
        case .permanentlyReset: return "permanently reset"
        }
    }
}

/// Where sixel images land, and what to send so they land at the cursor (in the pane).
///
/// DECSDM (private mode 80) chooses between "sixel scrolling" (an image is drawn at the cursor and
/// may scroll the screen) and "sixel display mode" (drawn at the top-left corner, never scrolls).
/// xterm's `sixelScrolling: false` resource starts it *set*, which draws Pleura's picture over the
/// title bar. Pleura needs images at the cursor: when the terminal reports the mode set, it
/// resets it (`CSI ? 80 l`: sixel scrolling, images at the cursor, as in xterm and the VT340's
/// DECSDM; checked in xterm with both `sixelScrolling` settings and in mlterm by the real-terminal
/// tests) and sets it again on exit, on signals and on crashes. Its images never reach the bottom row (the status line is
/// below the pane) and never end with a graphics new line, so scrolling mode scrolls nothing.
public enum SixelPlacement {
    /// DECRQM for mode 80, then DA1 (which every terminal answers: it ends the wait).
    public static let query = "\u{1B}[?80$p\u{1B}[c"
    /// Sent at start-up: images at the cursor.
    public static let atCursor: [UInt8] = Array("\u{1B}[?80l".utf8)
    /// Puts mode 80 back as it was found.
    public static let restoreSet: [UInt8] = Array("\u{1B}[?80h".utf8)

    /// What to send at start-up and at exit for the state the terminal reported (nil: no answer).
    /// Nothing is sent to a terminal that did not answer or does not know the mode, and nothing
    /// when the mode is already reset or cannot be changed.
    public static func plan(for state: ModeState?) -> (start: [UInt8], restore: [UInt8]) {
        state == .set ? (atCursor, restoreSet) : ([], [])
    }

    /// For `pleura doctor`: the state found and what Pleura does about it.
    public static func describe(_ state: ModeState?) -> String {
        switch state {
        case nil: return "no answer to DECRQM ?80: the terminal's setting is used as it is"
        case .notRecognised?: return "mode 80 not recognised: images are drawn at the cursor"
        case .reset?: return "reset (sixel scrolling): images at the cursor, as Pleura needs"
        case .set?: return "set (sixelScrolling off, images at the top-left): Pleura resets it while it runs and sets it again on exit"
        case .permanentlyReset?: return "permanently reset: images at the cursor"
        case .permanentlySet?: return "permanently set: images are drawn at the top-left corner over the screen; use another terminal setting or --graphics halfblock"
        }
    }
}

/// A terminal multiplexer between Pleura and the real terminal.
public enum Multiplexer: String, Sendable {
    case tmux, screen
}

/// What the terminal said about itself, and what Pleura concludes from it.
public struct TerminalCapabilities: Equatable, Sendable {
    /// Whether anything answered the queries within the timeout.
    public var answered = false
    /// DA1 (primary device attributes) parameters, e.g. `[63, 1, 2, 4, 6, 9, 15, 16, 22, 28]`.
    public var deviceAttributes: [Int]?
    /// True when DA1 lists attribute 4 (sixel graphics).
    public var sixel = false
    /// One sentence: why sixel is or is not used, and what to do about it.
    public var sixelReason = "not probed"
    /// Text size in cells (TIOCGWINSZ).
    public var columns: Int?
    public var rows: Int?
    /// Size of one character cell in pixels (`CSI 16 t`, else derived from the window size).
    public var cellWidth: Int?
    public var cellHeight: Int?
    /// Text area size in pixels (`CSI 14 t`, else TIOCGWINSZ's pixel fields).
    public var windowWidthPixels: Int?
    public var windowHeightPixels: Int?
    /// The state of private mode 80 (DECSDM, sixel display mode) from DECRQM; nil: no answer.
    public var sixelDisplayMode: ModeState?
    /// Sixel colour registers (XTSMGRAPHICS item 1).
    public var colorRegisters: Int?
    /// Largest sixel image the terminal accepts (XTSMGRAPHICS item 2).
    public var maxSixelWidth: Int?
    public var maxSixelHeight: Int?
    public var multiplexer: Multiplexer?
    /// `COLORTERM` says 24-bit colour.
    public var truecolor = false
    /// `NO_COLOR` is set (and not empty): text output uses no colour.
    public var noColor = false
    /// `TERM`, sanitised.
    public var term: String?
    /// Seconds the probe took.
    public var elapsed: Double = 0

    public init() {}

    /// The half-block variant this terminal gets: none with `NO_COLOR`, else truecolor when
    /// `COLORTERM` says so, else 256 colours.
    public var halfBlockMode: HalfBlockMode {
        noColor ? .mono : truecolor ? .truecolor : .ansi256
    }

    /// A cell size to plan with: the probed one, else 10×20 px (a common default font size).
    public var cellPixelSize: (width: Int, height: Int) {
        (cellWidth ?? 10, cellHeight ?? 20)
    }

    /// How to draw images here: `override` (the `--graphics` flag) wins; otherwise sixel when the
    /// terminal reports it, else half-blocks.
    public func graphics(override: GraphicsMode? = nil) -> GraphicsChoice {
        switch override {
        case .sixel?: return .sixel
        case .halfblock?: return .halfBlocks(halfBlockMode)
        case .off?: return .off
        case nil: return sixel ? .sixel : .halfBlocks(halfBlockMode)
        }
    }

    /// What to tell the user about the multiplexer, if any.
    public var multiplexerAdvice: String? {
        switch multiplexer {
        case .tmux?:
            return sixel
                ? "inside tmux, which passes sixel through (tmux ≥ 3.4 built with sixel): images stay below its 1 MiB limit"
                : "inside tmux, which drops sixel images (tmux 3.3 and older, or built without sixel): run pleura outside tmux, or use tmux ≥ 3.4 built with sixel support, for full-resolution images; half-blocks are used meanwhile"
        case .screen?:
            return "inside GNU screen, which does not pass sixel images: run pleura outside screen for full-resolution images; half-blocks are used meanwhile"
        case nil:
            return nil
        }
    }
}

/// Asks the terminal what it can do: DA1 (sixel = attribute 4), XTSMGRAPHICS (colour registers,
/// largest sixel), `CSI 16 t` / `CSI 14 t` (cell and window size in pixels) and TIOCGWINSZ.
///
/// All queries go out at once with DA1 last: terminals answer in order and every VT-compatible
/// terminal answers DA1, so its reply ends the wait; when nothing answers, the probe gives up after
/// `timeout` (200 ms by default). The terminal's mode is restored afterwards.
///
/// ```swift
/// let caps = TerminalProbe.probeControllingTerminal()
/// switch caps.graphics(override: flag) {
/// case .sixel: ...            // SixelEncoder(options: .init(maxColors: caps.colorRegisters ?? 256))
/// case .halfBlocks(let mode): ...
/// case .off: ...
/// }
/// ```
/// Call it before ncurses takes the terminal (or between `endwin` and `refresh`).
public enum TerminalProbe {
    /// The queries, in order: cell size, window size, colour registers, sixel geometry, DECSDM's
    /// state (DECRQM ?80), DA1.
    public static let queries = "\u{1B}[16t\u{1B}[14t\u{1B}[?1;1;0S\u{1B}[?2;1;0S\u{1B}[?80$p\u{1B}[c"

    /// Probes `/dev/tty` (the controlling terminal, whatever stdin/stdout are redirected to).
    public static func probeControllingTerminal(timeout: Double = 0.2,
                                                environment: [String: String] = ProcessInfo.processInfo.environment) -> TerminalCapabilities {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            var caps = fromEnvironment(environment)
            caps.sixelReason = "no terminal to ask (no controlling tty: output is redirected or this runs as a service); half-blocks are used unless --graphics says otherwise"
            return caps
        }
        defer { close(fd) }
        return probe(fd: fd, timeout: timeout, environment: environment)
    }

    /// Probes the terminal on `fd` (open for reading and writing).
    public static func probe(fd: Int32, timeout: Double = 0.2,
                             environment: [String: String] = ProcessInfo.processInfo.environment) -> TerminalCapabilities {
        let start = Measure.now()
        var caps = fromEnvironment(environment)
        guard isatty(fd) == 1 else {
            caps.sixelReason = "not a terminal: nothing to ask; half-blocks are used unless --graphics says otherwise"
            return caps
        }
        var ws = winsize()
        if withUnsafeMutablePointer(to: &ws, { ioctl(fd, UInt(TIOCGWINSZ), $0) }) == 0 {
            if ws.ws_col > 0 { caps.columns = Int(ws.ws_col) }
            if ws.ws_row > 0 { caps.rows = Int(ws.ws_row) }
            if ws.ws_xpixel > 0 && ws.ws_ypixel > 0 {
                caps.windowWidthPixels = Int(ws.ws_xpixel)
                caps.windowHeightPixels = Int(ws.ws_ypixel)
            }
        }
        let replies = exchange(fd: fd, timeout: timeout)
        apply(parseReplies(replies), to: &caps)
        caps.elapsed = Measure.now() - start
        return caps
    }

    /// Capabilities known from the environment alone (multiplexer, colour variables, TERM).
    public static func fromEnvironment(_ env: [String: String]) -> TerminalCapabilities {
        var caps = TerminalCapabilities()
        let term = env["TERM"] ?? ""
        caps.term = term.isEmpty ? nil : SafeText.sanitize(term)
        if let sty = env["STY"], !sty.isEmpty {
            caps.multiplexer = .screen
        } else if let tmux = env["TMUX"], !tmux.isEmpty {
            caps.multiplexer = .tmux
        } else if term.hasPrefix("tmux") {
            caps.multiplexer = .tmux
        } else if term.hasPrefix("screen") {
            caps.multiplexer = .screen
        }
        let colorterm = (env["COLORTERM"] ?? "").lowercased()
        caps.truecolor = colorterm == "truecolor" || colorterm == "24bit"
        caps.noColor = !(env["NO_COLOR"] ?? "").isEmpty
        return caps
    }

    /// Asks for DECSDM's state alone (the terminal's own setting, to restore on exit); nil when
    /// nothing answers DECRQM within `timeout`.
    public static func sixelDisplayMode(fd: Int32, timeout: Double = 0.2) -> ModeState? {
        guard isatty(fd) == 1 else { return nil }
        for reply in parseReplies(exchange(fd: fd, timeout: timeout, queries: SixelPlacement.query)) {
            if case .privateMode(80, let state) = reply { return state }
        }
        return nil
    }

    /// What ``measureThroughput(fd:maxSeconds:)`` found.
    public struct Throughput: Sendable {
        public var bytesPerSecond: Double
        public var bytes: Int
        public var seconds: Double
        /// The round trip of a DA1 query alone, subtracted from the timing.
        public var roundTrip: Double
    }

    /// Measures how fast the terminal takes bytes: writes a block of SGR resets (`CSI 0 m`, which
    /// draw nothing) followed by DA1 and times the answer, minus the round trip of DA1 alone;
    /// the block doubles from 64 KiB until one takes at least a quarter of `maxSeconds`. nil when
    /// the terminal does not answer DA1.
    public static func measureThroughput(fd: Int32, maxSeconds: Double = 2) -> Throughput? {
        guard isatty(fd) == 1 else { return nil }
        func timed(_ query: String) -> Double? {
            let start = Measure.now()
            let reply = exchange(fd: fd, timeout: maxSeconds, queries: query)
            return containsDA1Reply(reply) ? Measure.now() - start : nil
        }
        guard let roundTrip = timed("\u{1B}[c") else { return nil }
        var bytes = 65_536
        while true {
            let block = String(repeating: "\u{1B}[0m", count: bytes / 4)
            guard let t = timed(block + "\u{1B}[c") else { return nil }
            let transfer = max(t - roundTrip, 1e-4)
            if t >= maxSeconds / 4 || bytes >= 16 << 20 {
                return Throughput(bytesPerSecond: Double(bytes) / transfer, bytes: bytes, seconds: t, roundTrip: roundTrip)
            }
            bytes *= 4
        }
    }

    /// Writes the queries and collects the replies until DA1's answer or the timeout.
    static func exchange(fd: Int32, timeout: Double, queries: String = TerminalProbe.queries) -> [UInt8] {
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { return [] }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return [] }
        defer { tcsetattr(fd, TCSANOW, &saved) }

        let query = Array(queries.utf8)
        let written = query.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == query.count else { return [] }

        var received: [UInt8] = []
        let deadline = Measure.now() + timeout
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let remaining = deadline - Measure.now()
            if remaining <= 0 { break }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(max(1, (remaining * 1000).rounded(.up))))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { break }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            received += buffer[0..<n]
            if containsDA1Reply(received) { break }
        }
        return received
    }

    static func containsDA1Reply(_ bytes: [UInt8]) -> Bool {
        parseReplies(bytes).contains { if case .deviceAttributes = $0 { return true } else { return false } }
    }

    /// One parsed answer.
    enum Reply: Equatable {
        case deviceAttributes([Int])
        case cellSize(width: Int, height: Int)
        case windowSize(width: Int, height: Int)
        case colorRegisters(Int)
        case sixelGeometry(width: Int, height: Int)
        /// DECRPM: a DEC private mode's state.
        case privateMode(Int, ModeState)
    }

    /// Finds the answers in what the terminal sent (anything else, e.g. typed keys, is skipped).
    static func parseReplies(_ bytes: [UInt8]) -> [Reply] {
        var replies: [Reply] = []
        var i = 0
        while i < bytes.count {
            // CSI: ESC [ or the 8-bit 0x9B.
            var j: Int
            if bytes[i] == 0x1B, i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "[") { j = i + 2 }
            else if bytes[i] == 0x9B { j = i + 1 }
            else { i += 1; continue }
            var privateMarker = false
            if j < bytes.count, bytes[j] == UInt8(ascii: "?") { privateMarker = true; j += 1 }
            var params: [Int] = []
            var current: Int?
            var final: UInt8?
            var intermediate: UInt8?
            while j < bytes.count {
                let b = bytes[j]
                if b >= 0x30 && b <= 0x39 {
                    current = (current ?? 0) &* 10 &+ Int(b - 0x30)
                    if current! > 1_000_000 { current = 1_000_000 }
                } else if b == UInt8(ascii: ";") {
                    params.append(current ?? 0); current = nil
                } else if b >= 0x40 && b <= 0x7E {
                    final = b; break
                } else if b >= 0x20 && b <= 0x2F {
                    intermediate = b
                } else if b < 0x20 || b >= 0x80 {
                    break       // not a well-formed reply
                }
                j += 1
            }
            guard let final else { i += 1; continue }
            if let current { params.append(current) }
            switch (privateMarker, final) {
            case (true, UInt8(ascii: "c")):
                replies.append(.deviceAttributes(params))
            case (false, UInt8(ascii: "t")) where params.count >= 3 && params[0] == 6:
                replies.append(.cellSize(width: params[2], height: params[1]))
            case (false, UInt8(ascii: "t")) where params.count >= 3 && params[0] == 4:
                replies.append(.windowSize(width: params[2], height: params[1]))
            case (true, UInt8(ascii: "S")) where params.count >= 3 && params[0] == 1 && params[1] == 0:
                replies.append(.colorRegisters(params[2]))
            case (true, UInt8(ascii: "S")) where params.count >= 4 && params[0] == 2 && params[1] == 0:
                replies.append(.sixelGeometry(width: params[2], height: params[3]))
            case (true, UInt8(ascii: "y")) where intermediate == UInt8(ascii: "$") && params.count >= 2:
                if let state = ModeState(rawValue: params[1]) { replies.append(.privateMode(params[0], state)) }
            default:
                break
            }
            i = j + 1
        }
        return replies
    }

    /// Folds parsed replies into the capabilities and decides about sixel.
    static func apply(_ replies: [Reply], to caps: inout TerminalCapabilities) {
        caps.answered = !replies.isEmpty
        for reply in replies {
            switch reply {
            case .deviceAttributes(let p):
                caps.deviceAttributes = p
                caps.sixel = p.dropFirst().contains(4)
            case .cellSize(let w, let h) where w > 0 && h > 0:
                caps.cellWidth = w; caps.cellHeight = h
            case .windowSize(let w, let h) where w > 0 && h > 0:
                caps.windowWidthPixels = w; caps.windowHeightPixels = h
            case .colorRegisters(let n) where n > 0:
                caps.colorRegisters = n
            case .sixelGeometry(let w, let h) where w > 0 && h > 0:
                caps.maxSixelWidth = w; caps.maxSixelHeight = h
            case .privateMode(80, let state):
                caps.sixelDisplayMode = state
            default:
                break
            }
        }
        if caps.cellWidth == nil, let ww = caps.windowWidthPixels, let wh = caps.windowHeightPixels,
           let c = caps.columns, let r = caps.rows, c > 0, r > 0, ww >= c, wh >= r {
            caps.cellWidth = ww / c; caps.cellHeight = wh / r
        }
        if caps.windowWidthPixels == nil, let cw = caps.cellWidth, let ch = caps.cellHeight,
           let c = caps.columns, let r = caps.rows {
            caps.windowWidthPixels = cw * c; caps.windowHeightPixels = ch * r
        }
        caps.sixelReason = sixelReason(caps)
    }

    static func sixelReason(_ caps: TerminalCapabilities) -> String {
        let attrs = caps.deviceAttributes.map { $0.map(String.init).joined(separator: ";") }
        if caps.sixel {
            var s = "the terminal reports sixel graphics (DA1 attribute 4 in \(attrs ?? ""))"
            if let n = caps.colorRegisters { s += ", \(n) colour registers" }
            if caps.multiplexer == .tmux { s += "; inside tmux, which passes sixel through" }
            return s
        }
        switch caps.multiplexer {
        case .tmux?:
            return "no sixel: inside tmux, which answers for the terminal and drops sixel images (tmux 3.3 and older, or built without sixel); run pleura outside tmux or use tmux ≥ 3.4 built with sixel; half-blocks are used meanwhile"
        case .screen?:
            return "no sixel: inside GNU screen, which does not pass sixel images; run pleura outside screen; half-blocks are used meanwhile"
        case nil:
            break
        }
        guard caps.answered, let attrs else {
            return "no sixel: the terminal answered no query within the timeout (not a VT-compatible terminal, or a very slow link); half-blocks are used (force with --graphics sixel)"
        }
        return "no sixel: the terminal's device attributes (\(attrs)) lack 4 (sixel); xterm needs `-ti vt340`, or use a sixel terminal (foot, WezTerm, mlterm, Konsole, contour, mintty, iTerm2); half-blocks are used meanwhile"
    }
}
