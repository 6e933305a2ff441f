import Foundation
import PleuraCore

/// Runs a ``Shell`` (in any mode) on the controlling terminal until the user quits or a signal
/// ends it.
///
/// ```swift
/// let shell = Shell(session: s, keymap: k, media: files, mode: LabelMode(backend: store), openClip: open)
/// try shell.start()                           // errors here print before the terminal is touched
/// try ShellApp.run(shell) { tty in TerminalProbe.probe(fd: tty).paneEncoder(override: nil) }
/// ```
///
/// Exits cleanly on `q`, SIGTERM, SIGHUP (lost SSH link) and SIGINT: every label is already
/// committed when it is shown, so closing only restores the terminal (within one poll interval,
/// 0.1 s). Ctrl-Z gives the terminal back and `fg` repaints the screen and the image.
public enum ShellApp {
    /// Why the loop ended.
    public enum Ending: Equatable {
        case quit
        case signal(Int32)
    }

    /// `makeEncoder` receives the terminal's file descriptor before ncurses starts (to probe
    /// what graphics it can show) and returns the pane's image encoder.
    @discardableResult
    public static func run(_ shell: Shell, linkMegabits: Double? = nil,
                           makeEncoder: (Int32) throws -> PaneImageEncoder) throws -> Ending {
        let tty = try Terminal.openControllingTTY()
        let encoder: PaneImageEncoder
        do { encoder = try makeEncoder(fileno(tty)) } catch { fclose(tty); throw error }
        let terminal = try Terminal.open(tty: tty)
        defer { terminal.close() }
        terminal.link.fixedBytesPerSecond = linkMegabits.map { $0 * 1_000_000 / 8 }
        let screen = ShellScreen(terminal: terminal, shell: shell, encoder: encoder)
        if let log = ProcessInfo.processInfo.environment["PLEURA_TEST_IMAGE_LOG"] {
            // Test hook: one line per image written, so tests can count them (start-up sends one),
            // with the link's rate as planned then (bytes/s; 0: unknown).
            screen.onImageWritten = { [link = terminal.link] bytes in
                guard let f = fopen(log, "a") else { return }
                fputs("image \(bytes) \(Int(Measure.now() * 1000)) ms \(Int(link.bytesPerSecond ?? 0)) B/s\n", f)
                fclose(f)
            }
        }
        return runLoop(screen)
    }

    static func runLoop(_ screen: ShellScreen) -> Ending {
        let terminal = screen.terminal
        let controller = screen.shell
        let mode = controller.mode.kind
        screen.drawAll()
        var lastClip = controller.clipIndex
        var prefetched = false
        while true {
            var timeout = Int(Terminal.pollInterval)
            let now = Measure.now()
            if let wait = controller.secondsToNextFrame(now: now) { timeout = min(timeout, Int(wait * 1000)) }
            if let drain = screen.linkDrainSeconds(now: now) { timeout = min(timeout, Int((drain * 1000).rounded(.up))) }
            let event = terminal.nextEvent(timeout: timeout)
            switch event {
            case .signal(.terminate(let sig)):
                return .signal(sig)
            case .signal(.suspend):
                terminal.suspend()
                ProcessSignals.stopUntilContinued()
                screen.relayout()
                screen.drawAll()
            case .resize:
                screen.relayout()
                screen.drawAll()
            case .timeout:
                if controller.collectBackgroundModel() { screen.drawText() }   // predictions appear
                if controller.tick(now: Measure.now()) {
                    screen.drawText()
                    screen.sendFrame()
                } else if screen.linkDrainSeconds(now: Measure.now()) != nil {
                    // The frame that was due while the link was busy, now that it has drained.
                    screen.sendFrame()
                } else if controller.mode.idle(controller) {
                    screen.drawText()
                } else if !controller.isPlaying {
                    if controller.prepareModelForClip() {
                        // Predictions appear; so does the overlay when it is on (else the frame on
                        // screen is already right and is not sent again).
                        screen.drawText()
                        if controller.overlay.isOn { screen.sendFrame() }
                    }
                    else if !prefetched { controller.prefetchNextFrame(); prefetched = true }
                    else if controller.openNextUnopenedClip() { screen.drawText() }   // progress counts one more clip
                    else if controller.wantsIdleModelLoad { controller.startModelLoadInBackground(); screen.drawText() }
                }
            case .key(let key):
                prefetched = false
                if screen.layout.isTooSmall {
                    if controller.keymap.action(for: key, in: mode) == .quit { return .quit }
                    continue
                }
                guard let action = controller.keymap.action(for: key, in: mode) else {
                    flash(screen, "key \(key.shortLabel) does nothing here; \(controller.keymap.label(for: .help)) lists the keys")
                    continue
                }
                let effect: Effect
                do { effect = try controller.perform(action) } catch {
                    flash(screen, "NOT saved: " + describe(error), warning: true)
                    continue
                }
                var clipChanged = false
                if controller.clipIndex != lastClip { screen.clipChanged(); lastClip = controller.clipIndex; clipChanged = true }
                switch effect {
                case .none: break
                case .panel: screen.drawText()
                case .frame where clipChanged:
                    // Another clip may be smaller: repaint every cell so no old picture is left.
                    screen.drawAll()
                case .frame:
                    screen.drawText()
                    screen.sendFrame()
                case .quit: return .quit
                case .examOverview:
                    guard let labelMode = controller.mode as? LabelMode else { break }
                    let (jump, ending) = ExamScreen(screen: screen, mode: labelMode).run()
                    if let ending { return ending }
                    if let jump {
                        do { try controller.show(clip: jump, frame: controller.clips[jump].sampledFrames.first ?? 0) } catch {
                            controller.say("NOT opened: " + describe(error), warning: true)
                        }
                        if controller.clipIndex != lastClip { screen.clipChanged(); lastClip = controller.clipIndex }
                    }
                    screen.drawAll()
                case .help:
                    screen.drawHelp()
                    if case .signal(.terminate(let sig)) = waitForAnyKey(terminal) { return .signal(sig) }
                    screen.drawAll()
                case .prompt(let prompt):
                    let (answer, ending) = readLine(screen, prompt)
                    if let ending { return ending }
                    do {
                        if try controller.answer(prompt, with: answer) == .frame {
                            screen.drawText(); screen.sendFrame()
                        } else { screen.drawText() }
                    } catch { flash(screen, "NOT saved: " + describe(error), warning: true) }
                }
            }
        }
    }

    private static func describe(_ error: Error) -> String {
        (error as? PleuraError)?.description ?? SafeText.sanitize(String(describing: error))
    }

    private static func flash(_ screen: ShellScreen, _ text: String, warning: Bool = false) {
        screen.shell.say(text, warning: warning)
        screen.drawText()
    }

    private static func waitForAnyKey(_ terminal: Terminal) -> Terminal.Event {
        while true {
            let e = terminal.nextEvent(timeout: Int(Terminal.pollInterval))
            switch e {
            case .timeout: continue
            default: return e
            }
        }
    }

    /// A one-line editor: printable keys type, Backspace deletes, Enter accepts, Escape cancels.
    private static func readLine(_ screen: ShellScreen, _ prompt: Prompt) -> (String?, Ending?) {
        var text = screen.shell.promptDefault(prompt)
        screen.drawPrompt(prompt, text: text)
        defer { screen.terminal.showCursor(false) }
        while true {
            switch screen.terminal.nextEvent(timeout: Int(Terminal.pollInterval)) {
            case .signal(.terminate(let sig)): return (nil, .signal(sig))
            case .signal(.suspend), .resize, .timeout: continue
            case .key(let key):
                switch key {
                case .named(.enter): return (text, nil)
                case .named(.escape): return (nil, nil)
                case .named(.backspace): if !text.isEmpty { text.removeLast() }
                case .named(.space): text.append(" ")
                case .character(let c): if text.count < 500 { text.append(c) }
                default: continue
                }
                screen.drawPrompt(prompt, text: text)
            }
        }
    }
}

