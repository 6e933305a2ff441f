import Foundation
import Testing
import PleuraCore
import PleuraTestSupport

// Real-terminal tests: `pleura doctor` and `pleura render` inside xterm (a real sixel terminal,
// under Xvfb, screenshot with ImageMagick) and inside tmux 3.3 (which drops sixel).
// Xvfb display numbers :91 to :93 belong to these tests.

private let xtermTools = ["Xvfb", "xterm", "import", "xdotool"]
private let xtermMissing = "skipped: needs " + xtermTools.joined(separator: ", ") + " (make deps-test installs them)"
private let haveXterm = xtermTools.allSatisfy { TestEnv.which($0) != nil }

/// A child process started with posix_spawn and waited for with waitpid. Foundation's
/// `Process.waitUntilExit` does not return while a daemon the child started (tmux's server)
/// or a grandchild (xterm's shell) lives on, so these tests manage their processes directly.
private final class ChildProcess {
    let pid: pid_t
    private var reaped = false

    /// Starts `arguments[0]` (an absolute path) with stdin/stdout/stderr on /dev/null.
    init(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard status == 0 else { throw PleuraError(file: arguments[0], "cannot start (errno \(status))") }
        self.pid = pid
    }

    var isRunning: Bool {
        if reaped { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { reaped = true; return false }
        return true
    }

    /// Waits for the exit and returns the exit status (or 128 + signal).
    @discardableResult
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// SIGTERM, then SIGKILL after a second if it is still there; always reaps.
    func stop() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        for _ in 0..<20 where isRunning { usleep(50_000) }
        if isRunning { kill(pid, SIGKILL); wait() }
    }

    deinit { stop() }
}

/// An Xvfb server on the first free display of :91–:93, stopped (and reaped) on deinit.
private final class VirtualDisplay {
    let display: String
    let number: Int
    private let process: ChildProcess

    init() throws {
        for number in 91...93 {
            // A display is busy when its socket or lock exists (another run, another engineer).
            if FileManager.default.fileExists(atPath: "/tmp/.X11-unix/X\(number)")
                || FileManager.default.fileExists(atPath: "/tmp/.X\(number)-lock") { continue }
            let p = try ChildProcess([TestEnv.which("Xvfb")!, ":\(number)", "-screen", "0", "800x600x24",
                                      "-nolisten", "tcp", "-br"])
            // Ready when its socket appears; gone when it lost a race for the display.
            for _ in 0..<100 where p.isRunning {
                if FileManager.default.fileExists(atPath: "/tmp/.X11-unix/X\(number)") {
                    display = ":\(number)"; self.number = number; process = p
                    return
                }
                usleep(50_000)
            }
            p.stop()
        }
        throw PleuraError(file: nil, "no free X display among :91–:93 (is an old Xvfb still running?)")
    }

    deinit {
        // A server killed with SIGKILL leaves its lock and socket behind: remove them.
        process.stop()
        try? FileManager.default.removeItem(atPath: "/tmp/.X\(number)-lock")
        try? FileManager.default.removeItem(atPath: "/tmp/.X11-unix/X\(number)")
    }
}

/// An RGB screenshot of the whole screen (`import -window root`).
private struct Screenshot {
    var width: Int, height: Int, rgb: [UInt8]

    init(display: String, scratch: URL) throws {
        let file = scratch.appendingPathComponent("shot.ppm")
        let r = try runProgram(TestEnv.which("import")!, ["-display", display, "-window", "root", "-depth", "8", "ppm:" + file.path])
        guard r.status == 0 else { throw PleuraError(file: nil, "import failed: \(r.stderrText)") }
        let data = [UInt8](try Data(contentsOf: file))
        // Binary PPM: "P6", width, height, maxval, each followed by whitespace, then the pixels.
        var fields: [Int] = [], i = 2
        while fields.count < 3 {
            while i < data.count, data[i] == 0x20 || data[i] == 0x0A || data[i] == 0x0D || data[i] == 0x09 { i += 1 }
            var n = 0
            while i < data.count, (0x30...0x39).contains(data[i]) { n = n * 10 + Int(data[i] - 0x30); i += 1 }
            fields.append(n)
        }
        i += 1
        guard fields[2] == 255, data.count >= i + fields[0] * fields[1] * 3 else {
            throw PleuraError(file: file.path, "not an 8-bit binary PPM (maxval \(fields[2]))")
        }
        width = fields[0]; height = fields[1]
        rgb = Array(data[i..<(i + width * height * 3)])
    }

    /// The bounding box of pixels darker than `level` inside `region`, ignoring rows and columns
    /// that are dark almost end to end (the window's border lines).
    func darkBox(in region: (x: Int, y: Int, w: Int, h: Int), level: Int = 200) -> (x: Int, y: Int, w: Int, h: Int)? {
        let xs = max(0, region.x)..<min(width, region.x + region.w)
        let ys = max(0, region.y)..<min(height, region.y + region.h)
        func dark(_ x: Int, _ y: Int) -> Bool {
            let p = 3 * (y * width + x)
            return Int(rgb[p]) < level || Int(rgb[p + 1]) < level || Int(rgb[p + 2]) < level
        }
        let borderRows = Set(ys.filter { y in xs.filter { dark($0, y) }.count > xs.count * 9 / 10 })
        let borderColumns = Set(xs.filter { x in ys.filter { dark(x, $0) }.count > ys.count * 9 / 10 })
        var x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
        for y in ys where !borderRows.contains(y) {
            for x in xs where !borderColumns.contains(x) && dark(x, y) {
                x0 = min(x0, x); y0 = min(y0, y); x1 = max(x1, x); y1 = max(y1, y)
            }
        }
        return x1 < 0 ? nil : (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
    }

    /// The grey values of `box`, resampled (nearest) to `w × h`.
    func grey(_ box: (x: Int, y: Int, w: Int, h: Int), resizedTo w: Int, _ h: Int) -> [Double] {
        var out: [Double] = []
        for y in 0..<h {
            for x in 0..<w {
                let sx = box.x + min(box.w - 1, x * box.w / w), sy = box.y + min(box.h - 1, y * box.h / h)
                let p = 3 * (sy * width + sx)
                out.append(0.299 * Double(rgb[p]) + 0.587 * Double(rgb[p + 1]) + 0.114 * Double(rgb[p + 2]))
            }
        }
        return out
    }
}

private func normalizedCrossCorrelation(_ a: [Double], _ b: [Double]) -> Double {
    let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for i in a.indices { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb) }
    return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : 0
}

private func waitFor(_ path: String, seconds: Double) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if FileManager.default.fileExists(atPath: path) { return true }
        usleep(50_000)
    }
    return false
}

/// The value of `key` in `pleura doctor`'s report ("  key    value" lines).
private func doctorValue(_ report: String, _ key: String) -> String? {
    for line in report.split(separator: "\n") {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix(key + " ") { return String(trimmed.dropFirst(key.count)).trimmingCharacters(in: .whitespaces) }
    }
    return nil
}

private func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// `pleura phantom` writes one clip; ffmpeg decodes its frame 10 as grey for reference.
private func phantomFrame(in scratch: URL) throws -> ([String], PixelImage)? {
    guard let ffmpeg = TestEnv.which("ffmpeg") else { return nil }
    let dir = scratch.appendingPathComponent("phantom")
    let made = try runPleura(["phantom", "-o", dir.path, "--count", "1", "--seed", "3"])
    let clip = dir.appendingPathComponent("phantom-000.mp4").path
    guard made.status == 0, FileManager.default.fileExists(atPath: clip) else { return nil }
    let probe = try runProgram(TestEnv.which("ffprobe") ?? "/usr/bin/ffprobe", ["-v", "error", "-select_streams", "v:0",
                               "-show_entries", "stream=width,height", "-of", "csv=p=0", clip])
    let dims = probe.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").compactMap { Int($0) }
    guard dims.count == 2 else { return nil }
    let raw = try runProgram(ffmpeg, ["-nostdin", "-v", "error", "-i", clip, "-vf", "select=eq(n\\,10)", "-frames:v", "1",
                                      "-f", "rawvideo", "-pix_fmt", "gray", "-"])
    guard raw.status == 0, raw.stdout.count == dims[0] * dims[1] else { return nil }
    return ([clip, "--index", "10"], PixelImage(width: dims[0], height: dims[1], format: .gray8, pixels: [UInt8](raw.stdout)))
}

private func syntheticFrame(in scratch: URL) throws -> ([String], PixelImage) {
    let frame = TestFrames.lung(width: 400, height: 400, seed: 21)
    let file = scratch.appendingPathComponent("frame.npy").path
    try NumpyArray(image: frame).write(path: file)
    return ([file], frame)
}

/// Runs `script` (which must `touch` `done` when it has drawn) in `xterm -ti vt340` on a fresh
/// virtual display, then hands screenshots of xterm's window to `look` until it returns nil
/// (the picture is right) — up to 10 looks per attempt, 3 attempts. Returns the last complaint,
/// or nil on success. `afterDone` runs once per attempt when the script has finished.
private func inXterm(script: String, done: String, scratch: URL, afterDone: () -> Void = {},
                     look: (Screenshot, (x: Int, y: Int, w: Int, h: Int)) -> String?) throws -> String? {
    var lastFailure = "never looked"
    for attempt in 1...3 {
        try? FileManager.default.removeItem(atPath: done)
        let display = try VirtualDisplay()
        let xterm = try ChildProcess([TestEnv.which("xterm")!, "-display", display.display, "-ti", "vt340",
                                      "-geometry", "100x45+0+0", "-bg", "white", "-fg", "black", "-e", "/bin/sh", "-c", script],
                                     environment: ProcessInfo.processInfo.environment.filter { !["TMUX", "STY", "NO_COLOR"].contains($0.key) })
        defer { xterm.stop() }
        guard waitFor(done, seconds: 30) else { lastFailure = "attempt \(attempt): the script did not finish in xterm"; continue }
        afterDone()

        // Where is xterm's window?
        let search = try runProgram(TestEnv.which("xdotool")!, ["search", "--sync", "--onlyvisible", "--class", "xterm"],
                                    environment: ["DISPLAY": display.display])
        guard let id = search.stdoutText.split(separator: "\n").first else { lastFailure = "no xterm window"; continue }
        let geo = try runProgram(TestEnv.which("xdotool")!, ["getwindowgeometry", "--shell", String(id)],
                                 environment: ["DISPLAY": display.display])
        var g: [String: Int] = [:]
        for line in geo.stdoutText.split(separator: "\n") {
            let kv = line.split(separator: "=")
            if kv.count == 2, let v = Int(kv[1]) { g[String(kv[0])] = v }
        }
        let window = (x: g["X"] ?? 0, y: g["Y"] ?? 0, w: g["WIDTH"] ?? 800, h: g["HEIGHT"] ?? 600)
        // Painting may lag the shell: look a few times before judging.
        for _ in 0..<10 {
            usleep(300_000)
            let shot = try Screenshot(display: display.display, scratch: scratch)
            guard let complaint = look(shot, window) else { return nil }
            lastFailure = "attempt \(attempt): \(complaint)"
        }
    }
    // Keep the last screenshot for a look (the scratch folder is otherwise removed).
    let kept = FileManager.default.temporaryDirectory.appendingPathComponent("pleura-xterm-failure.ppm")
    try? FileManager.default.removeItem(at: kept)
    try? FileManager.default.copyItem(at: scratch.appendingPathComponent("shot.ppm"), to: kept)
    return lastFailure + "; screenshot kept in " + kept.path
}

@Test(.enabled(if: haveXterm, "\(xtermMissing)"))
func xtermShowsSixelAndDoctorSaysSo() throws {
    let scratch = try TestEnv.makeTempDirectory("pleura-xterm")
    defer { try? FileManager.default.removeItem(at: scratch) }
    // A phantom clip's frame 10 (the reference pixels decoded independently by ffmpeg); a
    // synthetic frame when the phantom or ffmpeg is unavailable.
    let (target, frame) = try phantomFrame(in: scratch) ?? syntheticFrame(in: scratch)
    let (width, height) = (frame.width, frame.height)
    let doctorFile = scratch.appendingPathComponent("doctor.txt").path
    let done = scratch.appendingPathComponent("done").path
    let pleura = shellQuote(TestEnv.pleuraBinary.path)
    // Doctor first (its output to a file), then a clean screen, the cursor hidden, the image at
    // the top left; the shell stays so the picture stays until the screenshot.
    let script = "\(pleura) doctor --no-model > \(shellQuote(doctorFile)) 2>&1; printf '\\033[?25l\\033[H\\033[2J'; "
        + "\(pleura) render \(target.map(shellQuote).joined(separator: " ")) --width \(width) --height \(height); touch \(shellQuote(done)); sleep 120"

    let failure = try inXterm(script: script, done: done, scratch: scratch, afterDone: {
        // The doctor's verdict, from inside xterm.
        let doctor = (try? String(contentsOfFile: doctorFile, encoding: .utf8)) ?? ""
        #expect(doctorValue(doctor, "sixel")?.hasPrefix("yes — the terminal reports sixel") == true, "\(doctor)")
        #expect(doctorValue(doctor, "images") == "sixel", "\(doctor)")
        // Issue 12: the sixel mode found (xterm answers DECRQM ?80), its colour registers, and the
        // link measured by timing no-op escape codes through the real terminal.
        #expect(doctorValue(doctor, "sixel mode")?.hasPrefix("DECSDM (mode 80) ") == true
                && doctorValue(doctor, "sixel mode")?.contains("no answer") == false, "\(doctor)")
        #expect(doctorValue(doctor, "colour registers")?.first?.isNumber == true, "\(doctor)")
        #expect(doctorValue(doctor, "link")?.contains("Mbit/s") == true, "\(doctor)")
        print("doctor in xterm: sixel mode \(doctorValue(doctor, "sixel mode") ?? "-"); registers \(doctorValue(doctor, "colour registers") ?? "-"); link \(doctorValue(doctor, "link") ?? "-")")
    }) { shot, window in
        // The dark pixels in xterm's white window are the image.
        guard let box = shot.darkBox(in: window) else { return "nothing drawn" }
        let ncc = normalizedCrossCorrelation(shot.grey(box, resizedTo: width, height), frame.pixels.map(Double.init))
        guard ncc >= 0.9 && abs(box.w - width) <= 4 && abs(box.h - height) <= 4 else { return "image box \(box), NCC \(ncc)" }
        print("xterm -ti vt340: sixel image found at \(box), NCC with the frame \(String(format: "%.3f", ncc))")
        return nil
    }
    if let failure { Issue.record("the sixel image never matched the frame: \(failure)") }
}

/// A heatmap overlay in a real sixel terminal: a map hot in the frame's left half only, through
/// jet at opacity 0.6 with threshold 0.5 (no colour below it). On screen the left half is tinted red–yellow (red well above blue) and the
/// right half stays grey (red, green and blue within a few levels).
@Test(.enabled(if: haveXterm, "\(xtermMissing)"))
func xtermShowsTheHeatmapOverlayWhereTheMapIsHot() throws {
    let scratch = try TestEnv.makeTempDirectory("pleura-xterm-overlay")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let (target, frame) = try syntheticFrame(in: scratch)
    let mapFile = scratch.appendingPathComponent("map.npy").path
    let (mw, mh) = (20, 20)
    let map = (0..<(mw * mh)).map { i -> Float in i % mw < mw / 2 ? 0.9 : 0 }
    try NumpyArray(shape: [mh, mw], floats: map).write(path: mapFile)
    let done = scratch.appendingPathComponent("done").path
    let pleura = shellQuote(TestEnv.pleuraBinary.path)
    let script = "printf '\\033[?25l\\033[H\\033[2J'; \(pleura) render \(target.map(shellQuote).joined(separator: " ")) "
        + "--heatmap \(shellQuote(mapFile)) --opacity 0.6 --threshold 0.5 --width \(frame.width) --height \(frame.height); touch \(shellQuote(done)); sleep 120"

    let failure = try inXterm(script: script, done: done, scratch: scratch) { shot, window in
        guard let box = shot.darkBox(in: window) else { return "nothing drawn" }
        guard abs(box.w - frame.width) <= 4 && abs(box.h - frame.height) <= 4 else { return "image box \(box)" }
        // Mean red minus blue, and the largest channel spread, in the middle of each half.
        func stats(_ x0: Int, _ x1: Int) -> (redMinusBlue: Double, spread: Double) {
            var rb = 0.0, spread = 0.0, n = 0.0
            for y in stride(from: box.y + box.h / 4, to: box.y + 3 * box.h / 4, by: 2) {
                for x in stride(from: x0, to: x1, by: 2) {
                    let p = 3 * (y * shot.width + x)
                    let (r, g, b) = (Double(shot.rgb[p]), Double(shot.rgb[p + 1]), Double(shot.rgb[p + 2]))
                    rb += r - b; spread += max(r, g, b) - min(r, g, b); n += 1
                }
            }
            return (rb / n, spread / n)
        }
        let hot = stats(box.x + box.w / 8, box.x + 3 * box.w / 8)
        let cold = stats(box.x + 5 * box.w / 8, box.x + 7 * box.w / 8)
        guard hot.redMinusBlue > 60, cold.spread < 12 else {
            return String(format: "hot half red−blue %.1f, cold half channel spread %.1f", hot.redMinusBlue, cold.spread)
        }
        print(String(format: "xterm -ti vt340: overlay red−blue %.1f in the hot half, spread %.1f in the cold half", hot.redMinusBlue, cold.spread))
        return nil
    }
    if let failure { Issue.record("the overlay never showed as expected: \(failure)") }
}

@Test(.enabled(if: TestEnv.which("tmux") != nil, "skipped: tmux is absent"))
func tmuxGetsHalfBlocksAndDoctorExplains() throws {
    let scratch = try TestEnv.makeTempDirectory("pleura-tmux")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let frameFile = scratch.appendingPathComponent("frame.npy").path
    try NumpyArray(image: TestFrames.lung(width: 300, height: 300, seed: 5)).write(path: frameFile)
    let doctorFile = scratch.appendingPathComponent("doctor.txt").path
    let done = scratch.appendingPathComponent("done").path
    let pleura = shellQuote(TestEnv.pleuraBinary.path)
    let socket = "pleura-test-\(UUID().uuidString.prefix(8))"
    let tmux = TestEnv.which("tmux")!
    let script = "\(pleura) doctor --no-model > \(shellQuote(doctorFile)) 2>&1; clear; "
        + "\(pleura) render \(shellQuote(frameFile)) --width 300 --height 300; touch \(shellQuote(done)); sleep 120"
    let start = try ChildProcess([tmux, "-L", socket, "-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "40",
                                  "/bin/sh", "-c", script],
                                 environment: ProcessInfo.processInfo.environment.merging(["NO_COLOR": "", "COLORTERM": ""]) { $1 })
    #expect(start.wait() == 0)
    defer { _ = try? ChildProcess([tmux, "-L", socket, "kill-server"]).wait() }
    #expect(waitFor(done, seconds: 30), "render did not finish inside tmux")

    let doctor = (try? String(contentsOfFile: doctorFile, encoding: .utf8)) ?? ""
    #expect(doctorValue(doctor, "multiplexer") == "tmux", "\(doctor)")
    #expect(doctorValue(doctor, "sixel")?.hasPrefix("no — no sixel: inside tmux") == true, "\(doctor)")
    #expect(doctor.contains("tmux ≥ 3.4"), "\(doctor)")
    #expect(doctorValue(doctor, "images")?.hasPrefix("half-blocks") == true, "\(doctor)")

    let pane = try runProgram(tmux, ["-L", socket, "capture-pane", "-p", "-e", "-t", "0"])
    #expect(pane.status == 0)
    let blocks = pane.stdoutText.split(separator: "\n").filter { $0.contains("▀") }
    #expect(blocks.count >= 5, "half-block rows on screen: \(blocks.count)")
    #expect(pane.stdoutText.contains("\u{1B}[38;5;") || pane.stdoutText.contains("\u{1B}[38;2;"), "coloured cells")
    #expect(!pane.stdoutText.contains("\u{1B}P"), "no sixel reached tmux")
}
