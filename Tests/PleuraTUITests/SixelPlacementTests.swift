import Foundation
import Testing
import PleuraTestSupport

/// Where the picture lands in real sixel terminals under both DECSDM (mode 80) settings: xterm
/// with `sixelScrolling` false (mode set: a naive image is drawn at the top-left, over the title
/// bar) and true, and mlterm with the mode set and as it starts. Each run opens a phantom LUS clip
/// paused (a still frame), takes a screenshot, then quits and asks the terminal for mode 80.
///
/// Checks: the title bar's blue is intact; the picture is found (best match of the frame as
/// Pleura scaled it for the pane, written by the `PLEURA_TEST_PANE_DUMP` hook) inside the pane,
/// below the title bar, at PSNR ≥ 36 dB (screen capture of a sixel terminal is lossless, so this
/// measures what the terminal shows against the scaled source, palette included); after exit the
/// terminal's mode 80 is as it was before.
@Suite(.serialized) struct SixelPlacementTests {
    enum Case: String, CaseIterable, CustomStringConvertible {
        case xtermScrollingOff, xtermScrollingOn, mltermModeSet, mltermDefault
        var description: String { rawValue }
        var program: String { self == .xtermScrollingOff || self == .xtermScrollingOn ? "xterm" : "mlterm" }
        /// The state mode 80 should have before and after Pleura (DECRPM Ps), nil: the terminal's own.
        var before: Int? {
            switch self {
            case .xtermScrollingOff, .mltermModeSet: return 1
            case .xtermScrollingOn: return 2
            case .mltermDefault: return nil
            }
        }
    }

    static let tools = ["Xvfb", "xterm", "mlterm", "import", "convert", "xdotool"]
    static let present = tools.allSatisfy { TestEnv.which($0) != nil }
    static let missing = "skipped: needs \(tools.joined(separator: ", ")) (make test installs them)"

    @Test(.enabled(if: present && RealTerminalTests.freeDisplay() != nil, "\(missing) and a free display among :94–:96"),
          arguments: Case.allCases)
    func pictureSitsInThePaneAndTheModeIsRestored(_ terminal: Case) throws {
        let dir = try TestEnv.makeTempDirectory("pleura-placement")
        defer { try? FileManager.default.removeItem(at: dir) }
        let made = try runProgram(TestEnv.pleuraBinary.path, ["phantom", "--output", dir.appendingPathComponent("clips").path, "--count", "1"])
        try #require(made.status == 0, "\(made.stderrText)")
        let session = dir.appendingPathComponent("s.toml")
        try "name = \"placement\"\nmedia = [\"clips/*.mp4\"]\nstore = \"labels.sqlite\"\nannotator = \"tester\"\n"
            .write(to: session, atomically: true, encoding: .utf8)
        let pane = dir.appendingPathComponent("pane.ppm"), mode = dir.appendingPathComponent("mode80"), done = dir.appendingPathComponent("done")
        // Inside the terminal: set mode 80 as the case says, run Pleura, then ask for mode 80 and keep the answer.
        let preset = terminal == .mltermModeSet ? "printf '\\033[?80h'; " : ""
        let script = preset + "PLEURA_TEST_PANE_DUMP=\(pane.path) \(TestEnv.pleuraBinary.path) label \(session.path) --graphics sixel; "
            + "stty raw -echo min 0 time 20; printf '\\033[?80$p'; dd bs=1 count=9 of=\(mode.path) 2>/dev/null; stty sane; touch \(done.path)"

        let display = try #require(RealTerminalTests.freeDisplay())
        let xvfb = try spawn([TestEnv.which("Xvfb")!, ":\(display)", "-screen", "0", "1100x720x24", "-nolisten", "tcp"])
        defer { stop(xvfb) }
        let env = ["DISPLAY": ":\(display)", "PLEURA_CACHE_DIR": dir.appendingPathComponent("cache").path,
                   "XDG_CONFIG_HOME": dir.appendingPathComponent("config").path, "LANG": "C.UTF-8"]
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: "/tmp/.X11-unix/X\(display)") { usleep(50_000) }
        let argv: [String]
        switch terminal {
        case .xtermScrollingOff, .xtermScrollingOn:
            argv = [TestEnv.which("xterm")!, "-ti", "vt340", "-xrm", "XTerm*numColorRegisters: 256",
                    "-xrm", "XTerm*sixelScrolling: \(terminal == .xtermScrollingOn)", "-geometry", "120x40+0+0",
                    "-fa", "Monospace", "-fs", "9", "-bg", "white", "-fg", "black", "-e", "/bin/sh", "-c", script]
        case .mltermModeSet, .mltermDefault:
            argv = [TestEnv.which("mlterm")!, "--geometry", "100x34+0+0", "-e", "/bin/sh", "-c", script]
        }
        let term = try spawn(argv, environment: env)
        defer { stop(term) }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: pane.path) { usleep(100_000) }
        try #require(FileManager.default.fileExists(atPath: pane.path), "\(terminal): Pleura never drew a still frame")
        sleep(2)
        let shot = dir.appendingPathComponent("shot.png")
        let r = try runProgram(TestEnv.which("import")!, ["-window", "root", shot.path], environment: env)
        try #require(r.status == 0, "import failed: \(r.stderrText)")
        if let keep = ProcessInfo.processInfo.environment["PLEURA_SAVE_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep + "-\(terminal).png")
            try? FileManager.default.copyItem(at: shot, to: URL(fileURLWithPath: keep + "-\(terminal).png"))
        }
        _ = try runProgram(TestEnv.which("xdotool")!, ["type", "q"], environment: env)
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: done.path) { usleep(100_000) }

        let screen = try RealTerminalTests.rgb(shot)
        let source = try Self.readPPM(pane)
        func px(_ x: Int, _ y: Int) -> (Int, Int, Int) {
            let i = 3 * (y * screen.width + x)
            return (Int(screen.pixels[i]), Int(screen.pixels[i + 1]), Int(screen.pixels[i + 2]))
        }
        // 1. The title bar (first text row: a flat bar, blue or reverse video) is intact right of
        //    its text: one colour there, where a picture drawn at the top-left would show the scan.
        var counts: [Int: Int] = [:], sampled = 0
        for y in 4...8 {
            for x in stride(from: 300, to: 600, by: 3) {
                sampled += 1; let (r, g, b) = px(x, y); counts[r << 16 | g << 8 | b, default: 0] += 1
            }
        }
        let bar = counts.values.max() ?? 0
        #expect(bar * 100 >= sampled * 98, "\(terminal): title bar \(bar)/\(sampled) pixels of its colour (the picture drew over it?)")

        // 2. The picture: best match of the scaled frame in the top-left part of the screen.
        // A fixed scatter of probe pixels (golden-ratio steps: spread evenly, no two alike).
        let probes: [(Int, Int)] = (0..<1500).map { (k: Int) -> (Int, Int) in
            let u = Double(k) * 0.6180339887, v = Double(k) * 0.7548776662
            return (Int((u - u.rounded(.down)) * Double(source.width)), Int((v - v.rounded(.down)) * Double(source.height)))
        }
        var best = (x: 0, y: 0, sse: Int.max)
        for oy in 0...min(200, screen.height - source.height) {
            for ox in 0...min(300, screen.width - source.width) {
                var error: Int = 0
                for (x, y) in probes {
                    let shown = px(ox + x, oy + y)
                    let i = 3 * (y * source.width + x)
                    let d0: Int = shown.0 - Int(source.pixels[i])
                    let d1: Int = shown.1 - Int(source.pixels[i + 1])
                    let d2: Int = shown.2 - Int(source.pixels[i + 2])
                    error += d0 * d0 + d1 * d1 + d2 * d2
                    if error >= best.sse { break }
                }
                if error < best.sse { best = (ox, oy, error) }
            }
        }
        var sse = 0.0
        for y in 0..<source.height {
            for x in 0..<source.width {
                let (r, g, b) = px(best.x + x, best.y + y)
                let i = 3 * (y * source.width + x)
                for (a, s) in [(r, source.pixels[i]), (g, source.pixels[i + 1]), (b, source.pixels[i + 2])] {
                    let d = Double(a - Int(s)); sse += d * d
                }
            }
        }
        let psnr = 10 * log10(255 * 255 / max(1e-9, sse / Double(3 * source.width * source.height)))
        print("placement \(terminal): picture \(source.width)×\(source.height) at (\(best.x), \(best.y)), PSNR \(String(format: "%.2f", psnr)) dB, title bar \(bar)/\(sampled) of one colour")
        #expect(psnr >= 36, "\(terminal): screenshot region vs the scaled frame \(psnr) dB at (\(best.x), \(best.y))")
        #expect(best.y >= 10, "\(terminal): the picture starts at y = \(best.y), over the title bar")
        #expect(best.x + source.width <= screen.width * 3 / 4, "\(terminal): the picture runs into the side panel")

        // 3. Mode 80 as before Pleura ran.
        let answer = String(decoding: (try? Data(contentsOf: mode)) ?? Data(), as: UTF8.self)
        if let before = terminal.before {
            #expect(answer.contains("?80;\(before)$y"), "\(terminal): mode 80 after exit: \(answer.debugDescription)")
        }
    }

    static func readPPM(_ url: URL) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        let data = [UInt8](try Data(contentsOf: url))
        var fields: [Int] = [], i = 2, current: Int?
        while fields.count < 3 && i < data.count {
            let b = data[i]
            if b >= 0x30 && b <= 0x39 { current = (current ?? 0) * 10 + Int(b - 0x30) }
            else if let c = current { fields.append(c); current = nil }
            i += 1
        }
        guard fields.count == 3, data.count - i == fields[0] * fields[1] * 3 else { throw DriverError("bad PPM \(url.path)") }
        return (fields[0], fields[1], Array(data[i...]))
    }
}
