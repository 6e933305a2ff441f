import Foundation
import PleuraCore
import PleuraRender

/// Sixel images through PleuraRender's `SixelEncoder`: the frame is scaled to fit the pane's
/// pixel size (cells × cell size from the terminal probe) and centred horizontally. A still frame
/// gets the still quality (≥ 40 dB); a playing frame the best rung of ``PlaybackQuality`` that
/// fits the link. Encoders live per clip so their palettes are reused from frame to frame.
public final class SixelPane: PaneImageEncoder {
    public let name = "sixel"
    private let still: SixelEncoder
    /// Still frames with a heatmap overlay: their own palette (ramp plus the map's colours), so
    /// neither kind of frame refits the other's.
    private let stillOverlay: SixelEncoder
    private let playing: PlaybackQuality
    private let cell: (width: Int, height: Int)
    /// Keeps the filter weights of the clip's geometry (every frame of a clip scales alike).
    private let resizer = Resizer()
    private var playback: (framesPerSecond: Double, link: LinkMeter)?

    public convenience init(capabilities: TerminalCapabilities) {
        let c = capabilities.cellPixelSize
        self.init(cellWidth: c.width, cellHeight: c.height, maxColors: min(256, max(2, capabilities.colorRegisters ?? 256)))
    }

    /// For benchmarks: a given cell size.
    public init(cellWidth: Int, cellHeight: Int, maxColors: Int = 256) {
        cell = (cellWidth, cellHeight)
        still = SixelEncoder(options: .still(maxColors: maxColors))
        stillOverlay = SixelEncoder(options: .still(maxColors: maxColors))
        playing = PlaybackQuality(maxColors: maxColors)
    }

    public func setPlayback(framesPerSecond: Double?, link: LinkMeter) {
        playback = framesPerSecond.map { ($0, link) }
    }

    public func encode(_ content: PaneContent, columns: Int, rows: Int, origin: (row: Int, column: Int)) throws -> [UInt8] {
        let image = content.frame
        let paneWidth = columns * cell.width, paneHeight = rows * cell.height
        let rect = Compositor.fittedRect(sourceWidth: image.width, sourceHeight: image.height, width: paneWidth, height: paneHeight)
        guard rect.width > 0, rect.height > 0 else { return [] }
        var scaled = resizer.resize(image, width: rect.width, height: rect.height)
        if let overlay = content.overlay { scaled = Compositor.overlay(scaled, heatmap: overlay.heatmap, style: overlay.style) }
        let indent = (paneWidth - rect.width) / 2 / cell.width
        var out: [UInt8] = indent > 0 ? Array("\u{1B}[\(indent)C".utf8) : []
        if let playback {
            playing.chooseRung(linkBytesPerSecond: playback.link.bytesPerSecond, framesPerSecond: playback.framesPerSecond)
            out += try playing.encode(scaled)
        } else {
            out += try (content.overlay == nil ? still : stillOverlay).encode(scaled)
            if let path = Self.paneDump { try? Self.writePPM(scaled, to: path) }
        }
        return out
    }

    public func clipChanged() { still.reset(); stillOverlay.reset(); playing.reset() }

    /// Test hook: real-terminal tests compare a screenshot of the pane with the frame exactly as
    /// it was scaled for it, so each still frame's scaled image is written here (binary PPM).
    private static let paneDump = ProcessInfo.processInfo.environment["PLEURA_TEST_PANE_DUMP"]

    private static func writePPM(_ image: PixelImage, to path: String) throws {
        let rgb = image.toRGB()
        try Data(Array("P6\n\(rgb.width) \(rgb.height)\n255\n".utf8) + rgb.pixels).write(to: URL(fileURLWithPath: path))
    }
}

/// Unicode half-blocks (`▀`, two pixels per cell) where the terminal has no sixel.
public final class HalfBlockPane: PaneImageEncoder {
    public let name: String
    private let mode: HalfBlockMode

    public init(mode: HalfBlockMode) {
        self.mode = mode
        name = mode == .mono ? "text (NO_COLOR)" : "half-blocks"
    }

    public func encode(_ content: PaneContent, columns: Int, rows: Int, origin: (row: Int, column: Int)) throws -> [UInt8] {
        guard columns > 0, rows > 0 else { return [] }
        // Letterboxed to the cells' pixels (two per cell), the heatmap on the fitted frame only.
        let pixels = Compositor.compose(frame: content.frame, heatmap: content.overlay?.heatmap,
                                        style: content.overlay?.style ?? OverlayStyle(), width: columns, height: rows * 2)
        let lines = HalfBlockRenderer.renderCells(pixels, mode: mode)
        var out: [UInt8] = []
        out.reserveCapacity(lines.count * (columns * 12 + 12))
        for (i, line) in lines.enumerated() {
            out += Array("\u{1B}[\(origin.row + i + 1);\(origin.column + 1)H".utf8)
            out += Array(line.utf8)
        }
        return out
    }

    public func clipChanged() {}
    public func setPlayback(framesPerSecond: Double?, link: LinkMeter) {}
}

/// No pictures (`--graphics none`): the pane says so.
public final class NoImagePane: PaneImageEncoder {
    public let name = "no images"
    public init() {}
    public func encode(_ content: PaneContent, columns: Int, rows: Int, origin: (row: Int, column: Int)) throws -> [UInt8] {
        Array("(images are off: --graphics none)".utf8)
    }
    public func clipChanged() {}
    public func setPlayback(framesPerSecond: Double?, link: LinkMeter) {}
}

extension TerminalCapabilities {
    /// The pane encoder for this terminal, honouring `--graphics`.
    public func paneEncoder(override: GraphicsMode?) -> PaneImageEncoder {
        switch graphics(override: override) {
        case .sixel: return SixelPane(capabilities: self)
        case .halfBlocks(let mode): return HalfBlockPane(mode: mode)
        case .off: return NoImagePane()
        }
    }
}
