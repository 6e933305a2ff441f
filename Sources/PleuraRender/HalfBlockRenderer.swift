import PleuraCore

/// How half-block cells are coloured.
public enum HalfBlockMode: String, CaseIterable, Sendable {
    /// 24-bit colour SGR (`ESC[38;2;r;g;bm`), for terminals that set `COLORTERM=truecolor`.
    case truecolor
    /// The xterm 256-colour palette (6×6×6 cube plus 24 greys), for everything else.
    case ansi256 = "256"
    /// No escape sequences at all (`NO_COLOR`): an ASCII brightness ramp, one character per cell.
    case mono
}

/// Draws an image with text cells where the terminal has no sixel: each cell is `▀` (upper half
/// block) whose foreground is the upper pixel and background the lower one, so a cell carries two
/// pixels stacked (cells are about twice as tall as wide).
///
/// ```swift
/// let lines = HalfBlockRenderer.render(frame, columns: 60, rows: 30, mode: .truecolor)
/// for (i, line) in lines.enumerated() { move(to: top + i, left); write(line) }
/// ```
/// Every line is exactly `columns` cells wide, starts with no assumption about the current colours
/// and ends with `ESC[0m` (except in ``HalfBlockMode/mono``, which uses no escapes), so lines can be
/// written anywhere (an ncurses pane, stdout) independently.
public enum HalfBlockRenderer {
    /// The characters of ``HalfBlockMode/mono``, darkest to brightest.
    public static let monoRamp: [Character] = [" ", ".", ":", "-", "=", "+", "*", "#", "%", "@"]

    /// The image letterboxed into `columns × 2·rows` pixels and drawn as `rows` lines of cells.
    public static func render(_ image: PixelImage, columns: Int, rows: Int, mode: HalfBlockMode) -> [String] {
        guard columns > 0, rows > 0 else { return [] }
        let fitted = Compositor.letterbox(image, width: columns, height: rows * 2).toRGB()
        return renderCells(fitted, mode: mode)
    }

    /// Draws an RGB image of exactly `columns × 2·rows` pixels, one cell per pixel pair, without
    /// scaling (what ``render(_:columns:rows:mode:)`` calls after letterboxing).
    public static func renderCells(_ image: PixelImage, mode: HalfBlockMode) -> [String] {
        let rgb = image.toRGB()
        let w = rgb.width, px = rgb.pixels
        var lines: [String] = []
        lines.reserveCapacity((rgb.height + 1) / 2)
        for row in stride(from: 0, to: rgb.height, by: 2) {
            var line = ""
            line.reserveCapacity(w * (mode == .mono ? 1 : 12))
            var lastFg: (UInt8, UInt8, UInt8)?, lastBg: (UInt8, UInt8, UInt8)?
            var lastFg256 = -1, lastBg256 = -1
            for x in 0..<w {
                let t = 3 * (row * w + x)
                let top = (px[t], px[t + 1], px[t + 2])
                // An odd last row has no lower pixel: black below.
                let bottom: (UInt8, UInt8, UInt8) = row + 1 < rgb.height
                    ? (px[t + 3 * w], px[t + 3 * w + 1], px[t + 3 * w + 2]) : (0, 0, 0)
                switch mode {
                case .mono:
                    let luma = (lumaOf(top) + lumaOf(bottom)) / 2
                    line.append(monoRamp[min(monoRamp.count - 1, luma * monoRamp.count / 256)])
                case .truecolor:
                    var sgr: [String] = []
                    if lastFg == nil || lastFg! != top { sgr.append("38;2;\(top.0);\(top.1);\(top.2)"); lastFg = top }
                    if lastBg == nil || lastBg! != bottom {
                        sgr.append("48;2;\(bottom.0);\(bottom.1);\(bottom.2)"); lastBg = bottom
                    }
                    if !sgr.isEmpty { line += "\u{1B}[" + sgr.joined(separator: ";") + "m" }
                    line += "▀"
                case .ansi256:
                    let f = xterm256(top), b = xterm256(bottom)
                    var sgr: [String] = []
                    if f != lastFg256 { sgr.append("38;5;\(f)"); lastFg256 = f }
                    if b != lastBg256 { sgr.append("48;5;\(b)"); lastBg256 = b }
                    if !sgr.isEmpty { line += "\u{1B}[" + sgr.joined(separator: ";") + "m" }
                    line += "▀"
                }
            }
            if mode != .mono { line += "\u{1B}[0m" }
            lines.append(line)
        }
        return lines
    }

    private static func lumaOf(_ c: (UInt8, UInt8, UInt8)) -> Int {
        (299 * Int(c.0) + 587 * Int(c.1) + 114 * Int(c.2) + 500) / 1000
    }

    /// Levels of the xterm 6×6×6 colour cube.
    static let cubeLevels = [0, 95, 135, 175, 215, 255]

    /// The nearest xterm 256-palette index (16–255; the first 16 vary by terminal theme, so they
    /// are never used): the nearest cube colour or the nearest of the 24 greys, whichever is closer.
    public static func xterm256(_ c: (UInt8, UInt8, UInt8)) -> Int {
        func cubeIndex(_ v: UInt8) -> Int {
            let v = Int(v)
            if v < 48 { return 0 }
            if v < 115 { return 1 }
            return min(5, (v - 35) / 40)
        }
        let r = Int(c.0), g = Int(c.1), b = Int(c.2)
        let ci = (cubeIndex(c.0), cubeIndex(c.1), cubeIndex(c.2))
        let cr = cubeLevels[ci.0], cg = cubeLevels[ci.1], cb = cubeLevels[ci.2]
        let cubeDistance = (cr - r) * (cr - r) + (cg - g) * (cg - g) + (cb - b) * (cb - b)
        let mean = (r + g + b) / 3
        let gi = mean < 3 ? 0 : min(23, (mean - 3) / 10)
        let gv = 8 + 10 * gi
        let greyDistance = (gv - r) * (gv - r) + (gv - g) * (gv - g) + (gv - b) * (gv - b)
        if greyDistance < cubeDistance { return 232 + gi }
        return 16 + 36 * ci.0 + 6 * ci.1 + ci.2
    }
}

private func != (a: (UInt8, UInt8, UInt8), b: (UInt8, UInt8, UInt8)) -> Bool {
    a.0 != b.0 || a.1 != b.1 || a.2 != b.2
}
