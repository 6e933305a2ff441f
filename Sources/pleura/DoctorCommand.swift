import ArgumentParser
import Foundation
import PleuraCore
import PleuraMedia
import PleuraModel
import PleuraRender
import PleuraStore
import PleuraTUI

/// `pleura doctor`: what works on this machine and terminal, and why not.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the terminal's graphics, the libraries and the model: what works here and why not.",
        discussion: """
            Asks the terminal (on /dev/tty, so it works with output redirected) for its device \
            attributes, sixel colour registers and geometry, and cell size, then prints how Pleura \
            will draw images and why. Exit status is 0 even when something is missing: read the lines.
            """)

    @Option(help: "Pretend --graphics was given: sixel, halfblock or none.")
    var graphics: GraphicsMode?

    @Option(help: "How long to wait for the terminal's answers, in milliseconds.")
    var timeout: Int = 200

    @Option(help: ArgumentHelp("Store database (unused here).", visibility: .hidden))
    var store: String?

    func run() throws {
        let caps = TerminalProbe.probeControllingTerminal(timeout: Double(max(10, min(timeout, 5000))) / 1000)
        print(Self.report(caps, override: graphics).joined(separator: "\n"))
    }

    /// The report as lines (sanitised: TERM and library strings come from outside).
    static func report(_ caps: TerminalCapabilities, override: GraphicsMode?) -> [String] {
        var lines: [String] = []
        func line(_ key: String, _ value: String) {
            lines.append(key.padding(toLength: 20, withPad: " ", startingAt: 0) + SafeText.sanitize(value))
        }
        lines.append("Pleura \(PleuraVersion.string)")
        lines.append("")
        lines.append("Terminal")
        line("  TERM", caps.term ?? "(not set)")
        if let m = caps.multiplexer { line("  multiplexer", m.rawValue) }
        line("  answered", caps.answered ? String(format: "yes, in %.0f ms", caps.elapsed * 1000)
                                         : String(format: "nothing within %.0f ms", caps.elapsed * 1000))
        if let da = caps.deviceAttributes { line("  device attributes", da.map(String.init).joined(separator: ";")) }
        line("  sixel", (caps.sixel ? "yes — " : "no — ") + caps.sixelReason)
        if let n = caps.colorRegisters { line("  colour registers", "\(n)") }
        if let w = caps.maxSixelWidth, let h = caps.maxSixelHeight { line("  largest sixel", "\(w)×\(h) px") }
        if let c = caps.columns, let r = caps.rows { line("  text size", "\(c)×\(r) cells") }
        if let w = caps.cellWidth, let h = caps.cellHeight { line("  cell size", "\(w)×\(h) px") }
        else { line("  cell size", "unknown (the terminal did not say; assuming 10×20 px)") }
        if let w = caps.windowWidthPixels, let h = caps.windowHeightPixels { line("  window", "\(w)×\(h) px") }
        line("  colour", caps.noColor ? "none (NO_COLOR is set)" : caps.truecolor ? "24-bit (COLORTERM)" : "256 colours (set COLORTERM=truecolor if the terminal has 24-bit colour)")
        if let advice = caps.multiplexerAdvice { line("  note", advice) }
        let choice = caps.graphics(override: override)
        line("  images", choice.name + (override != nil ? " (forced by --graphics \(override!.rawValue))" : ""))
        lines.append("")
        lines.append("Libraries")
        line("  libsixel", RenderLibraries.sixelVersion)
        let media = MediaLibraries.versions
        line("  FFmpeg", ["avformat", "avcodec", "swscale", "avutil"].map { "\($0) \(media[$0] ?? "?")" }.joined(separator: ", "))
        line("  SQLite", StoreLibraries.sqliteVersion)
        line("  ncurses", TUILibraries.ncursesVersion)
        lines.append("")
        lines.append("Model")
        let exeDir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let shim = exeDir.appendingPathComponent(ModelLibraries.shimLibraryName).path
        line("  libtorch shim", FileManager.default.fileExists(atPath: shim)
             ? "\(shim) (present; not loaded by doctor)"
             : "not found beside pleura (\(shim)): build it with `swift build --product PleuraTorchShim`")
        line("  default model", Model.defaultModelURL.map { "\($0.path) (not loaded by doctor)" }
             ?? "not found (Models/\(Model.defaultModelName) above the executable, or set PLEURA_MODEL)")
        return lines
    }
}
