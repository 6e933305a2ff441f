import Foundation
import Testing
import PleuraCore
import PleuraTestSupport

/// A folder with a synthetic LUS-like frame saved as a uint8 .npy image.
private func frameFile(name: String = "frame.npy", width: Int = 320, height: Int = 240) throws -> (URL, URL) {
    let dir = try TestEnv.makeTempDirectory("pleura-render")
    let file = dir.appendingPathComponent(name)
    try NumpyArray(image: TestFrames.lung(width: width, height: height, seed: 11)).write(path: file.path)
    return (dir, file)
}

@Test func renderWritesOneSixelImage() throws {
    let (dir, file) = try frameFile()
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try runPleura(["render", file.path, "--width", "200", "--height", "200", "--graphics", "sixel"])
    #expect(r.status == 0, "\(r.stderrText)")
    let out = [UInt8](r.stdout)
    #expect(out.starts(with: [0x1B, 0x50]) && out.suffix(2) == [0x1B, 0x5C])
    #expect(out.filter { $0 == 0x1B }.count == 2, "exactly one DCS … ST, nothing else")
    #expect(String(decoding: out, as: UTF8.self).contains("\"1;1;200;200"), "raster attributes give the pane size")
    #expect(r.stderr.isEmpty)
}

@Test func renderWithHeatmapAndHalfBlocks() throws {
    let (dir, file) = try frameFile()
    defer { try? FileManager.default.removeItem(at: dir) }
    let map = dir.appendingPathComponent("cam.npy")
    try NumpyArray(shape: [24, 32], floats: TestFrames.blob(width: 32, height: 24)).write(path: map.path)
    let r = try runPleura(["render", file.path, "--heatmap", map.path, "--colormap", "inferno", "--threshold", "0.3",
                           "--width", "320", "--height", "240", "--graphics", "halfblock", "--columns", "40", "--rows", "15"],
                          environment: ["COLORTERM": "truecolor", "NO_COLOR": ""])
    #expect(r.status == 0, "\(r.stderrText)")
    let lines = r.stdoutText.split(separator: "\n")
    #expect(lines.count == 15)
    #expect(lines.allSatisfy { $0.filter { $0 == "▀" }.count == 40 })
    #expect(r.stdoutText.contains("38;2;"))
    let mono = try runPleura(["render", file.path, "--graphics", "halfblock", "--columns", "40", "--rows", "15"],
                             environment: ["NO_COLOR": "1"])
    #expect(mono.status == 0)
    #expect(!mono.stdout.contains(0x1B), "NO_COLOR: no escape sequences at all")
    #expect(mono.stdoutText.split(separator: "\n").count == 15)
}

@Test func renderErrorsAreOneLineNamingTheFile() throws {
    let (dir, file) = try frameFile()
    defer { try? FileManager.default.removeItem(at: dir) }
    let missing = try runPleura(["render", dir.appendingPathComponent("nope.mp4").path, "--graphics", "sixel"])
    #expect(missing.status == 1)
    #expect(missing.stderrText.hasPrefix("pleura: ") && missing.stderrText.contains("nope.mp4: no such file"))
    let badMap = dir.appendingPathComponent("bad.npy")
    try NumpyArray(shape: [5], floats: [0, 0, 0, 0, 0]).write(path: badMap.path)
    let r = try runPleura(["render", file.path, "--heatmap", badMap.path, "--graphics", "sixel"])
    #expect(r.status == 1)
    #expect(r.stderrText.contains("bad.npy: a heatmap must be a 2-D array"))
    #expect(r.stderrText.split(separator: "\n").count == 1)
    #expect(r.stdout.isEmpty)
    let overlay = try runPleura(["render", file.path, "--overlay", "--model", dir.appendingPathComponent("none.pt").path,
                                 "--graphics", "sixel"])
    #expect(overlay.status == 1 && overlay.stderrText.contains("none.pt"), "\(overlay.stderrText)")
    #expect(overlay.stdout.isEmpty)
    let method = try runPleura(["render", file.path, "--overlay", "--method", "magic", "--graphics", "sixel"])
    #expect(method.status == 1 && method.stderrText.contains("unknown --method magic"))
    let bad = try runPleura(["render", file.path, "--width", "0"])
    #expect(bad.status != 0 && bad.stderrText.contains("--width"))
}

/// A file named with terminal escape sequences (set the window title, clear the screen, a C1 CSI)
/// is shown harmlessly: none of those bytes reaches stdout or stderr.
@Test func fileNamesWithEscapeSequencesNeverReachTheTerminal() throws {
    let evil = "x\u{1B}]2;pwned\u{07}\u{1B}[2J\u{9B}31m.npy"
    let (dir, file) = try frameFile(name: evil)
    defer { try? FileManager.default.removeItem(at: dir) }
    for graphics in ["sixel", "halfblock", "none"] {
        let r = try runPleura(["render", file.path, "--graphics", graphics, "--columns", "20", "--rows", "8"])
        #expect(r.status == 0, "\(graphics): \(r.stderrText)")
        let text = r.stdoutText + r.stderrText
        #expect(!text.contains("pwned\u{07}") && !text.contains("\u{1B}]2;") && !text.contains("\u{1B}[2J"))
        #expect(!text.unicodeScalars.contains("\u{9B}") && !text.unicodeScalars.contains("\u{07}"))
        if graphics == "none" { #expect(r.stdoutText.contains("x?]2;pwned??[2J?31m.npy: frame 0")) }
    }
    // And in an error message.
    let missing = try runPleura(["render", dir.appendingPathComponent("gone" + evil).path, "--graphics", "sixel"])
    #expect(missing.status == 1)
    #expect(!missing.stderr.contains(0x1B) && !missing.stderr.contains(0x07))
    #expect(missing.stderrText.contains("gonex?]2;pwned"))
}

@Test func doctorWithoutATerminalSaysSo() throws {
    // Under `swift test` there may or may not be a controlling terminal; setsid makes sure there is none.
    guard let setsid = TestEnv.which("setsid") else { return }
    let r = try runProgram(setsid, [TestEnv.pleuraBinary.path, "doctor"])
    #expect(r.status == 0)
    #expect(r.stdoutText.contains("no controlling tty"))
    #expect(r.stdoutText.contains("libsixel") && r.stdoutText.contains("SQLite") && r.stdoutText.contains("ncurses"))
    #expect(r.stdoutText.contains("images") && r.stdoutText.contains("half-blocks"))
}
