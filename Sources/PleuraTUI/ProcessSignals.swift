import Foundation
import Synchronization

/// The signals the labelling screen reacts to, recorded by async-signal-safe handlers and read by
/// the input loop (which wakes at least every ``Terminal/pollInterval``).
///
/// Handlers are installed *before* ncurses starts, so ncurses leaves SIGINT/SIGTERM/SIGTSTP to
/// us (it only installs its own where the disposition is still the default): quitting then goes
/// through the same path as `q` (the store is closed, the terminal restored).
enum ProcessSignals {
    enum Kind: Sendable, Equatable {
        /// SIGTERM, SIGHUP (lost SSH link) or SIGINT: close the store, restore the terminal, exit.
        case terminate(Int32)
        /// SIGTSTP (Ctrl-Z): restore the terminal, stop; redraw everything on `fg`.
        case suspend
    }

    private static let pending = Atomic<UInt64>(0)
    nonisolated(unsafe) private static var savedTermios = termios()
    nonisolated(unsafe) private static var ttyDescriptor: Int32 = -1
    /// Terminal modes to put back on a crash (DECSDM, see ``Terminal``), built before any handler runs.
    nonisolated(unsafe) private static var restoreModes: [UInt8] = []

    /// Installs the handlers. `tty` is the terminal's descriptor and its settings before ncurses
    /// changed them, used to put the terminal back if the process crashes.
    static func install(tty: Int32, restore modes: [UInt8] = []) {
        ttyDescriptor = tty
        restoreModes = modes
        tcgetattr(tty, &savedTermios)
        let record: @convention(c) (Int32) -> Void = { sig in
            ProcessSignals.pending.bitwiseOr(UInt64(1) << UInt64(sig), ordering: .relaxed)
        }
        for sig in [SIGTERM, SIGHUP, SIGINT, SIGTSTP] { signal(sig, record) }
        // A parent may have started us with these blocked (seen under test runners and some
        // process supervisors); blocked, SIGTERM and SIGHUP would never end the program.
        var wanted = sigset_t()
        sigemptyset(&wanted)
        for sig in [SIGTERM, SIGHUP, SIGINT, SIGTSTP, SIGCONT, SIGWINCH] { sigaddset(&wanted, sig) }
        pthread_sigmask(SIG_UNBLOCK, &wanted, nil)
        // A crash must not leave the terminal in raw mode on the alternate screen: restore the
        // saved settings with async-signal-safe calls, then die the normal way.
        let crash: @convention(c) (Int32) -> Void = { sig in
            ProcessSignals.restoreTerminalFromSignalHandler()
            signal(sig, SIG_DFL)
            raise(sig)
        }
        for sig in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP] { signal(sig, crash) }
    }

    /// Puts the default dispositions back (after the terminal is closed).
    static func uninstall() {
        for sig in [SIGTERM, SIGHUP, SIGINT, SIGTSTP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP] {
            signal(sig, SIG_DFL)
        }
    }

    /// The signals received since the last call, most urgent first.
    static func take() -> [Kind] {
        let bits = pending.exchange(0, ordering: .relaxed)
        guard bits != 0 else { return [] }
        var out: [Kind] = []
        for sig in [SIGHUP, SIGTERM, SIGINT] where bits & (UInt64(1) << UInt64(sig)) != 0 { out.append(.terminate(sig)) }
        if bits & (UInt64(1) << UInt64(SIGTSTP)) != 0 { out.append(.suspend) }
        return out
    }

    /// Stops the process as SIGTSTP would by default, returning when it is continued (`fg`).
    static func stopUntilContinued() {
        signal(SIGTSTP, SIG_DFL)
        raise(SIGTSTP)
        // … stopped here until SIGCONT …
        let record: @convention(c) (Int32) -> Void = { sig in
            ProcessSignals.pending.bitwiseOr(UInt64(1) << UInt64(sig), ordering: .relaxed)
        }
        signal(SIGTSTP, record)
    }

    private static func restoreTerminalFromSignalHandler() {
        guard ttyDescriptor >= 0 else { return }
        tcsetattr(ttyDescriptor, TCSANOW, &savedTermios)
        // Leave the alternate screen, show the cursor, reset attributes.
        let reset: [UInt8] = Array("\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l\r\n".utf8)
        _ = reset.withUnsafeBytes { write(ttyDescriptor, $0.baseAddress, $0.count) }
        if !restoreModes.isEmpty { _ = restoreModes.withUnsafeBytes { write(ttyDescriptor, $0.baseAddress, $0.count) } }
    }
}
