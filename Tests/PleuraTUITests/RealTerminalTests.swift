import Foundation
import Testing
import PleuraModel
import PleuraTestSupport

/// The labelling screen in a real sixel terminal: Xvfb (displays :94–:96) + `xterm -ti vt340`,
/// keys with xdotool, a screenshot with ImageMagick's `import`, then pixel checks: the image pane
/// is filled with the clip's colours (ffmpeg's testsrc2: saturated bars, which xterm's black-on-
/// white text never produces) and the panel beside it holds text (some dark pixels on white, no
/// picture colours).
@Suite(.serialized) struct RealTerminalTests {
    static let tools = ["Xvfb", "xterm", "import", "convert", "xdotool", "ffmpeg"]
    static let present = tools.allSatisfy { TestEnv.which($0) != nil }
    static let missing = "skipped: needs \(tools.joined(separator: ", ")) (make test installs them)"

    /// A free display among :94…:96, or nil.
    static func freeDisplay() -> Int? {
        (94...96).first { !FileManager.default.fileExists(atPath: "/tmp/.X11-unix/X\($0)") && !FileManager.default.fileExists(atPath: "/tmp/.X\($0)-lock") }
    }

    /// Screenshot pixels (RGB) via ImageMagick.
    static func rgb(_ png: URL) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        let size = try runProgram(TestEnv.which("convert")!, [png.path, "-format", "%w %h", "info:"]).stdoutText.split(separator: " ").compactMap { Int($0) }
        let raw = try runProgram(TestEnv.which("convert")!, [png.path, "-depth", "8", "rgb:-"]).stdout
        return (size[0], size[1], [UInt8](raw))
    }

    @Test(.enabled(if: present && freeDisplay() != nil, "\(missing) and a free display among :94–:96"))
    func frameIsVisibleInTheImagePaneBesideTheLabelPanel() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-xterm")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = dir.appendingPathComponent("clip.mp4")
        let made = try runProgram(TestEnv.which("ffmpeg")!, ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=400x300:rate=20",
                                                            "-frames:v", "20", "-pix_fmt", "yuv420p", clip.path])
        try #require(made.status == 0)
        let session = dir.appendingPathComponent("s.toml")
        try "name = \"xterm test\"\nmedia = [\"clip.mp4\"]\nstore = \"labels.sqlite\"\nannotator = \"tester\"\n"
            .write(to: session, atomically: true, encoding: .utf8)
        let shot = try Self.screenshotOfLabellingScreen(session: session, dir: dir, keys: ["a", "2"])
        let image = try Self.rgb(shot)

        // The image pane: left of the panel (the panel takes the last 37 of 120 columns).
        let paneRight = image.width * 83 / 120
        func luma(_ x: Int, _ y: Int) -> Int {
            let i = 3 * (y * image.width + x)
            return (299 * Int(image.pixels[i]) + 587 * Int(image.pixels[i + 1]) + 114 * Int(image.pixels[i + 2])) / 1000
        }
        func saturated(_ x: Int, _ y: Int) -> Bool {
            let i = 3 * (y * image.width + x)
            let c = [Int(image.pixels[i]), Int(image.pixels[i + 1]), Int(image.pixels[i + 2])]
            return c.max()! - c.min()! > 80
        }
        // testsrc2 is full of saturated colour; xterm's text is black on white.
        var colourful = 0, paneTotal = 0
        let top = image.height / 20, bottom = image.height * 17 / 20
        for y in stride(from: top, to: bottom, by: 2) {
            for x in stride(from: 0, to: paneRight, by: 2) { paneTotal += 1; if saturated(x, y) { colourful += 1 } }
        }
        #expect(Double(colourful) / Double(paneTotal) > 0.25, "image pane: \(colourful)/\(paneTotal) colourful pixels")
        // The panel: text, so mostly background with some dark pixels and no picture colours.
        var dark = 0, panelTotal = 0, panelColourful = 0
        for y in stride(from: top, to: image.height * 12 / 20, by: 2) {
            for x in stride(from: paneRight + 12, to: image.width - 4, by: 2) {
                panelTotal += 1
                if luma(x, y) < 100 { dark += 1 }
                if saturated(x, y) { panelColourful += 1 }
            }
        }
        #expect(dark > panelTotal / 100 && dark < panelTotal / 2, "panel: \(dark)/\(panelTotal) dark pixels")
        #expect(panelColourful < panelTotal / 20)
    }

    /// Runs `pleura label SESSION` in xterm (vt340, 256 colour registers, 120×40) on a free
    /// display, presses `keys`, waits for the sixel image and returns a screenshot.
    static func screenshotOfLabellingScreen(session: URL, dir: URL, keys: [String], environment extra: [String: String] = [:],
                                            command: [String] = ["label"], name: String = "shot.png") throws -> URL {
        let display = try #require(freeDisplay())
        let xvfb = try spawn([TestEnv.which("Xvfb")!, ":\(display)", "-screen", "0", "1100x720x24", "-nolisten", "tcp"])
        defer { stop(xvfb) }
        let env = ["DISPLAY": ":\(display)", "PLEURA_CACHE_DIR": dir.appendingPathComponent("cache").path,
                   "XDG_CONFIG_HOME": dir.appendingPathComponent("config").path, "LANG": "C.UTF-8"].merging(extra) { $1 }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: "/tmp/.X11-unix/X\(display)") { usleep(50_000) }
        let xterm = try spawn([TestEnv.which("xterm")!, "-ti", "vt340", "-xrm", "XTerm*numColorRegisters: 256", "-xrm", "XTerm*allowWindowOps: true",
                               "-geometry", "120x40+0+0", "-fa", "Monospace", "-fs", "9", "-bg", "white", "-fg", "black",
                               "-e", TestEnv.pleuraBinary.path] + command + [session.path, "--graphics", "sixel"], environment: env, cwd: dir)
        defer { stop(xterm) }
        sleep(4)
        for key in keys {
            _ = try runProgram(TestEnv.which("xdotool")!, ["type", "--delay", "50", key], environment: env)
            usleep(400_000)
        }
        sleep(1)
        let shot = dir.appendingPathComponent(name)
        let r = try runProgram(TestEnv.which("import")!, ["-window", "root", shot.path], environment: env)
        try #require(r.status == 0, "import failed: \(r.stderrText)")
        if let target = ProcessInfo.processInfo.environment["PLEURA_SAVE_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(at: shot, to: URL(fileURLWithPath: target))
        }
        return shot
    }

    /// Review mode's quiz reveal adds many panel lines at once. ncurses drew that by scrolling
    /// rows whole width, dragging the picture along, and left a strip of the plain frame under the
    /// revealed map. After the reveal the picture block must be as tall as before it.
    @Test(.enabled(if: present && freeDisplay() != nil && Model.defaultModelURL != nil, "\(missing), a free display among :94–:96 and the embedded model"))
    func quizRevealLeavesNoStripOfTheOldFrameUnderThePicture() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-xterm-quiz")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = dir.appendingPathComponent("s.db").path
        for args in [["phantom", "-o", dir.appendingPathComponent("ph").path, "--count", "1", "--seed", "5"],
                     ["add", dir.appendingPathComponent("ph").path, "--store", store],
                     ["import", dir.appendingPathComponent("ph/labels.csv").path, "--store", store, "--root", dir.appendingPathComponent("ph").path, "--as", "truth"],
                     ["infer", "--store", store, "--every", "20", dir.appendingPathComponent("ph/phantom-000.mp4").path]] {
            let r = try runPleura(args, cwd: dir)
            try #require(r.status == 0, "pleura \(args[0]): \(r.stderrText)")
        }
        let session = dir.appendingPathComponent("review.toml")
        try "name = \"quiz\"\nmode = \"review\"\nmedia = [\"ph/*.mp4\"]\nstore = \"s.db\"\nannotator = \"kim\"\n[review]\nreference = \"truth\"\nquiz = true\n"
            .write(to: session, atomically: true, encoding: .utf8)
        /// The height of the first tall run of rows from the top (title bar, then the picture) that
        /// hold anything but the white background in the pane's left third.
        func blockHeight(_ png: URL) throws -> Int {
            let image = try Self.rgb(png)
            var start: Int? = nil
            for y in 0..<image.height {
                var any = false
                for x in stride(from: 8, to: image.width / 3, by: 3) {
                    let i = 3 * (y * image.width + x)
                    if image.pixels[i] < 235 || image.pixels[i + 1] < 235 || image.pixels[i + 2] < 235 { any = true; break }
                }
                if any, start == nil { start = y }
                // The window's 1-px border and the white rows under it are not the block.
                if !any, let s = start { if y - s > 50 { return y - s }; start = nil }
            }
            return image.height - (start ?? image.height)
        }
        let before = try blockHeight(Self.screenshotOfLabellingScreen(session: session, dir: dir, keys: [], command: ["review"], name: "before.png"))
        let after = try blockHeight(Self.screenshotOfLabellingScreen(session: session, dir: dir, keys: ["1", "\r"], command: ["review"], name: "after.png"))
        #expect(before > 100, "no picture before the reveal (block \(before) px)")
        #expect(abs(after - before) <= 2, "the picture block was \(before) px tall before the reveal and \(after) px after")
    }
}
