import Foundation
import Testing
import PleuraCore
@testable import PleuraRender

/// What xterm -ti vt340 (Debian 12) answers to the probe's queries.
private let xtermReplies = "\u{1B}[6;13;6t\u{1B}[4;524;604t\u{1B}[?1;0;1024S\u{1B}[?2;0;600;520S\u{1B}[?63;1;2;4;6;9;15;16;22;28c"

@Test func probeParsesXtermsAnswers() {
    var caps = TerminalProbe.fromEnvironment(["TERM": "xterm"])
    caps.columns = 100; caps.rows = 40
    TerminalProbe.apply(TerminalProbe.parseReplies(Array(xtermReplies.utf8)), to: &caps)
    #expect(caps.answered && caps.sixel)
    #expect(caps.deviceAttributes == [63, 1, 2, 4, 6, 9, 15, 16, 22, 28])
    #expect(caps.cellWidth == 6 && caps.cellHeight == 13)
    #expect(caps.windowWidthPixels == 604 && caps.windowHeightPixels == 524)
    #expect(caps.colorRegisters == 1024)
    #expect(caps.maxSixelWidth == 600 && caps.maxSixelHeight == 520)
    #expect(caps.graphics() == .sixel)
    #expect(caps.sixelReason.contains("attribute 4"))
}

@Test func probeUnderTmuxExplainsWhatToDo() {
    var caps = TerminalProbe.fromEnvironment(["TERM": "screen-256color", "TMUX": "/tmp/tmux-0/default,1,0"])
    TerminalProbe.apply(TerminalProbe.parseReplies(Array("\u{1B}[?1;2c".utf8)), to: &caps)
    #expect(caps.multiplexer == .tmux)
    #expect(!caps.sixel)
    #expect(caps.graphics() == .halfBlocks(.ansi256))
    #expect(caps.sixelReason.contains("tmux") && caps.sixelReason.contains("3.4"))
    #expect(caps.multiplexerAdvice?.contains("outside tmux") == true)
    let screen = TerminalProbe.fromEnvironment(["TERM": "screen", "STY": "123.pts-0.host"])
    #expect(screen.multiplexer == .screen)
}

@Test func probeDecidesFromOverridesAndColourVariables() {
    var caps = TerminalProbe.fromEnvironment(["COLORTERM": "truecolor"])
    #expect(caps.graphics() == .halfBlocks(.truecolor))
    #expect(caps.graphics(override: .sixel) == .sixel)
    #expect(caps.graphics(override: .off) == .off)
    #expect(GraphicsMode(rawValue: "none") == .off)
    caps = TerminalProbe.fromEnvironment(["COLORTERM": "truecolor", "NO_COLOR": "1"])
    #expect(caps.graphics(override: .halfblock) == .halfBlocks(.mono))
    caps = TerminalProbe.fromEnvironment(["NO_COLOR": ""])          // empty NO_COLOR does not count
    #expect(caps.halfBlockMode == .ansi256)
    #expect(TerminalProbe.fromEnvironment(["TERM": "xterm\u{1B}]2;x"]).term == "xterm?]2;x")
}

@Test func probeIgnoresNoiseAndPartialReplies() {
    // Typed keys before the answers, an unrelated CSI, a truncated reply at the end.
    let bytes = Array("ab\u{1B}[A\u{1B}[?62;4c\u{1B}[6;1".utf8)
    let replies = TerminalProbe.parseReplies(bytes)
    #expect(replies == [.deviceAttributes([62, 4])])
    // The leading parameter of DA1 is the terminal class, not an attribute: 4 there is not sixel.
    var caps = TerminalCapabilities()
    TerminalProbe.apply([.deviceAttributes([4, 1, 2])], to: &caps)
    #expect(!caps.sixel)
    // Cell size derived from the window when CSI 16 t gets no answer.
    caps = TerminalCapabilities(); caps.columns = 80; caps.rows = 24
    TerminalProbe.apply([.windowSize(width: 800, height: 480)], to: &caps)
    #expect(caps.cellWidth == 10 && caps.cellHeight == 20)
}

/// A pseudo-terminal pair: the probe talks to `slave`, the test plays the terminal on `master`.
private final class PseudoTerminal {
    let master: Int32
    let slave: Int32
    init() throws {
        // posix_openpt and friends are hidden from Swift's Glibc module; do what they do.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        // _IOW('T', 0x31, int) and _IOR('T', 0x30, unsigned int): function-like macros Swift cannot import.
        let TIOCSPTLCK: UInt = 0x4004_5431, TIOCGPTN: UInt = 0x8004_5430
        var unlock: Int32 = 0, number: UInt32 = 0
        guard master >= 0,
              withUnsafeMutablePointer(to: &unlock, { ioctl(master, TIOCSPTLCK, $0) }) == 0,
              withUnsafeMutablePointer(to: &number, { ioctl(master, TIOCGPTN, $0) }) == 0 else {
            throw PleuraError(file: nil, "no pseudo-terminal")
        }
        self.master = master
        slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw PleuraError(file: nil, "cannot open the pseudo-terminal") }
        var ws = winsize(ws_row: 40, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0)
        _ = withUnsafeMutablePointer(to: &ws) { ioctl(slave, UInt(TIOCSWINSZ), $0) }
    }
    deinit { close(slave); close(master) }

    /// Answers like xterm once the DA1 query arrives (on a background thread).
    func answerLikeXterm() {
        let fd = master
        Thread.detachNewThread {
            var seen: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 256)
            while !String(decoding: seen, as: UTF8.self).contains("\u{1B}[c") {
                let n = read(fd, &buf, buf.count)
                if n <= 0 { return }
                seen += buf[0..<n]
            }
            let reply = Array(xtermReplies.utf8)
            _ = reply.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
    }
}

@Test func probeTalksToARealTerminalDevice() throws {
    let pty = try PseudoTerminal()
    pty.answerLikeXterm()
    let caps = TerminalProbe.probe(fd: pty.slave, timeout: 2, environment: ["TERM": "xterm"])
    #expect(caps.sixel && caps.cellWidth == 6 && caps.colorRegisters == 1024)
    #expect(caps.columns == 100 && caps.rows == 40)
    #expect(caps.elapsed < 1.5, "DA1's answer ends the wait")
    // The terminal's mode is restored (canonical input and echo back on).
    var t = termios()
    tcgetattr(pty.slave, &t)
    #expect(t.c_lflag & tcflag_t(ICANON) != 0 && t.c_lflag & tcflag_t(ECHO) != 0)
}

@Test func probeGivesUpWithinItsTimeoutWhenNothingAnswers() throws {
    let pty = try PseudoTerminal()          // nobody reads or answers on the master side
    let caps = TerminalProbe.probe(fd: pty.slave, timeout: 0.2, environment: ["TERM": "dumb"])
    #expect(!caps.answered && !caps.sixel)
    #expect(caps.elapsed >= 0.19 && caps.elapsed < 0.35, "took \(caps.elapsed) s")
    #expect(caps.sixelReason.contains("answered no query"))
    #expect(caps.graphics() == .halfBlocks(.ansi256))
}

@Test func probeOfSomethingThatIsNotATerminal() {
    let caps = TerminalProbe.probe(fd: open("/dev/null", O_RDWR), timeout: 0.2, environment: [:])
    #expect(!caps.answered && !caps.sixel && caps.elapsed < 0.05)
    #expect(caps.sixelReason.contains("not a terminal"))
}

/// DECRPM (`CSI ? 80 ; Ps $ y`) gives DECSDM's state; only a set mode is changed and restored.
@Test func probeReadsDECSDMAndPlansPlacement() {
    var caps = TerminalProbe.fromEnvironment(["TERM": "xterm"])
    TerminalProbe.apply(TerminalProbe.parseReplies(Array("\u{1B}[?80;1$y\u{1B}[?63;1;2;4c".utf8)), to: &caps)
    #expect(caps.sixelDisplayMode == .set)
    let set = SixelPlacement.plan(for: .set)
    #expect(set.start == Array("\u{1B}[?80l".utf8) && set.restore == Array("\u{1B}[?80h".utf8))
    for state in [ModeState.reset, .notRecognised, .permanentlySet, .permanentlyReset] {
        #expect(SixelPlacement.plan(for: state).start.isEmpty && SixelPlacement.plan(for: state).restore.isEmpty, "\(state)")
    }
    #expect(SixelPlacement.plan(for: nil).start.isEmpty)
    var reset = TerminalCapabilities()
    TerminalProbe.apply(TerminalProbe.parseReplies(Array("\u{1B}[?80;2$y".utf8)), to: &reset)
    #expect(reset.sixelDisplayMode == .reset)
    // Another mode's report, or one without the `$`, is not DECSDM.
    var other = TerminalCapabilities()
    TerminalProbe.apply(TerminalProbe.parseReplies(Array("\u{1B}[?25;1$y\u{1B}[?80;1y".utf8)), to: &other)
    #expect(other.sixelDisplayMode == nil)
    #expect(TerminalProbe.queries.contains("\u{1B}[?80$p"))
}
