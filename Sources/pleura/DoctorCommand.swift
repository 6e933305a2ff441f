import ArgumentParser
import Foundation
import PleuraCore
import PleuraMedia
import PleuraModel
import PleuraRender
import PleuraStore
import PleuraStorePostgres
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

    @Flag(help: "Do not load the model (loading it starts libtorch, which takes a moment).")
    var noModel = false

    @Option(help: "Also check this store (as `pleura store verify`).")
    var store: String?

    @Flag(help: "Do not time the link to the terminal (it writes up to a few MB of no-op escape codes).")
    var noLink = false

    func run() throws {
        let caps = TerminalProbe.probeControllingTerminal(timeout: Double(max(10, min(timeout, 5000))) / 1000)
        var link: String
        if noLink {
            link = "not measured (--no-link)"
        } else if caps.answered {
            let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
            let measured = fd >= 0 ? TerminalProbe.measureThroughput(fd: fd) : nil
            if fd >= 0 { close(fd) }
            link = measured.map {
                LinkMeter.megabits($0.bytesPerSecond) + String(format: " (%d KiB of no-op escape codes in %.2f s, round trip %.0f ms); playback fits its frames to what it measures while it runs, or to --link MBIT", $0.bytes / 1024, $0.seconds, $0.roundTrip * 1000)
            } ?? "not measured: the terminal stopped answering"
        } else {
            link = "not measured: the terminal answers no query"
        }
        var lines = Self.report(caps, override: graphics, loadModel: !noModel, link: link)
        if let store {
            lines.append("")
            lines.append("Store")
            func line(_ key: String, _ value: String) {
                lines.append(key.padding(toLength: 20, withPad: " ", startingAt: 0) + SafeText.sanitize(value))
            }
            if PostgresLocation.isURL(store) {
                lines += Self.postgresReport(store)
                print(lines.joined(separator: "\n"))
                return
            }
            line("  file", store)
            do {
                let result = try openExistingStore(store).verify()
                line("  events", "\(result.events)")
                line("  check", result.problems.isEmpty ? "ok (quick_check, triggers, current labels match the log)"
                                                        : result.problems.joined(separator: "; "))
            } catch let error as PleuraError {
                line("  check", "cannot open: " + error.reason)
            }
        }
        print(lines.joined(separator: "\n"))
    }

    /// The report as lines (sanitised: TERM and library strings come from outside).
    static func report(_ caps: TerminalCapabilities, override: GraphicsMode?, loadModel: Bool = true, link: String? = nil) -> [String] {
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
        line("  colour registers", caps.colorRegisters.map { "\($0) (sixel palettes use up to \(min(256, $0)))" }
             ?? "not reported (XTSMGRAPHICS unanswered): up to 256 are used")
        line("  sixel mode", "DECSDM (mode 80) " + SixelPlacement.describe(caps.sixelDisplayMode))
        if let link { line("  link", link) }
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
        do {
            let media = try MediaLibraries.versions()
            line("  FFmpeg", ["avformat", "avcodec", "swscale", "avutil"].map { "\($0) \(media[$0] ?? "?")" }.joined(separator: ", "))
        } catch {
            line("  FFmpeg", "NOT USABLE: " + ((error as? PleuraError)?.reason ?? "\(error)"))
        }
        line("  SQLite", StoreLibraries.sqliteVersion)
        line("  ncurses", TUILibraries.ncursesVersion)
        lines.append("")
        lines.append("Model")
        lines += modelReport(load: loadModel)
        return lines
    }

    /// The embedded model: where it is, what its card says, whether libtorch loads it.
    static func modelReport(load: Bool) -> [String] {
        var lines: [String] = []
        func line(_ key: String, _ value: String) {
            lines.append(key.padding(toLength: 20, withPad: " ", startingAt: 0) + SafeText.sanitize(value))
        }
        let shim = ModelLibraries.shimCandidatePaths.first { FileManager.default.fileExists(atPath: $0) }
        line("  libtorch shim", shim ?? "not found (looked in \(ModelLibraries.shimCandidatePaths.joined(separator: ", "))); build it with `swift build --product PleuraTorchShim`")
        guard let url = Model.defaultModelURL else {
            line("  model", "\(Model.defaultModelName) not found (looked above the executable, in share/pleura/Models and ./Models); pass --model PATH or set PLEURA_MODEL")
            return lines
        }
        guard FileManager.default.fileExists(atPath: url.path) else {
            line("  model", "\(url.path) does not exist (named by PLEURA_MODEL)")
            return lines
        }
        line("  model", url.path)
        do {
            let card = try ModelCard.read(url: ModelRuntime.cardURL(for: url))
            line("  card", "\(card.name): \(card.input.width)×\(card.input.height)×\(card.input.channels) input, heads "
                 + card.heads.map { "\($0.name) (\($0.classes.joined(separator: "/")))" }.joined(separator: ", "))
        } catch let error as PleuraError {
            line("  card", "unreadable: " + error.description)
            return lines
        } catch {
            line("  card", "unreadable: \(error)")
            return lines
        }
        guard load else { line("  loads", "not tried (--no-model)"); return lines }
        let start = Measure.now()
        do {
            _ = try ModelRuntime.load(url)
            line("  loads", String(format: "yes, in %.2f s (libtorch included)", Measure.now() - start))
        } catch let error as PleuraError {
            line("  loads", "no: " + error.description)
        } catch {
            line("  loads", "no: \(error)")
        }
        return lines
    }
}
