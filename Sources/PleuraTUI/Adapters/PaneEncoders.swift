import Foundation
import PleuraCore
import PleuraRender

/// Sixel images through PleuraRender's `SixelEncoder`: the frame is scaled to fit the pane's
/// pixel size (cells × cell size from the terminal probe) and centred horizontally; one encoder
/// per clip so its palette is reused from frame to frame.
public final class SixelPane: PaneImageEncoder {
    public let name = "sixel"
    private let encoder: SixelEncoder
    private let cell: (width: Int, height: Int)

    public init(capabilities: TerminalCapabilities) {
        cell = capabilities.cellPixelSize
        encoder = SixelEncoder(options: .init(maxColors: min(256, max(2, capabilities.colorRegisters ?? 256))))
    }

    /// For benchmarks: a given cell size.
    public init(cellWidth: Int, cellHeight: Int, maxColors: Int = 256) {
        cell = (cellWidth, cellHeight)
        encoder = SixelEncoder(options: .init(maxColors: maxColors))
    }

    public func encode(_ content: PaneContent, columns: Int, rows: Int, origin: (row: Int, column: Int)) throws -> [UInt8] {
        let image = content.frame
        let paneWidth = columns * cell.width, paneHeight = rows * cell.height
        let rect = Compositor.fittedRect(sourceWidth: image.width, sourceHeight: image.height, width: paneWidth, height: paneHeight)
        guard rect.width > 0, rect.height > 0 else { return [] }
        var scaled = Compositor.resize(image, width: rect.width, height: rect.height)
        if let overlay = content.overlay { scaled = Compositor.overlay(scaled, heatmap: overlay.heatmap, style: overlay.style) }
        let indent = (paneWidth - rect.width) / 2 / cell.width
        var out: [UInt8] = indent > 0 ? Array("\u{1B}[\(indent)C".utf8) : []
        out += try encoder.encode(scaled)
        return out
    }

    public func clipChanged() { encoder.reset() }
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
}

/// No pictures (`--graphics none`): the pane says so.
public final class NoImagePane: PaneImageEncoder {
    public let name = "no images"
    public init() {}
    public func encode(_ content: PaneContent, columns: Int, rows: Int, origin: (row: Int, column: Int)) throws -> [UInt8] {
        Array("(images are off: --graphics none)".utf8)
    }
    public func clipChanged() {}
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
