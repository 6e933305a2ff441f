import ArgumentParser
import Foundation
import PleuraCore
import PleuraModel
import PleuraRender

extension GraphicsMode: ExpressibleByArgument {}
extension Colormap: ExpressibleByArgument {}

/// `pleura render FILE`: one frame as terminal graphics on stdout.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Write one frame as terminal graphics (sixel or half-blocks) to stdout.",
        discussion: """
            The frame is scaled to fit WIDTH×HEIGHT pixels keeping its aspect ratio (black bars fill \
            the rest). Sixel is used when the terminal reports it, half-blocks otherwise; \
            --graphics overrides. Half-blocks use 24-bit colour when COLORTERM=truecolor, 256 \
            colours otherwise, and no colour at all when NO_COLOR is set.
            FILE may also be a uint8 .npy array of shape (H, W) or (H, W, 3).
            Examples:
              pleura render clip.mp4 --index 12 --width 480 --height 480
              pleura render clip.mp4 --heatmap cam.npy --colormap turbo --threshold 0.3 --width 640 --height 480
              pleura render clip.mp4 --index 12 --overlay --method layercam --width 480 --height 480
            """)

    @Argument(help: "A video, image, or uint8 .npy image.")
    var file: String

    @Option(help: "Frame index (0-based).")
    var index: Int = 0

    @Option(help: "A float32 .npy heatmap (values in [0, 1]) to draw over the frame.")
    var heatmap: String?

    @Flag(help: "Draw the model's Grad-CAM of its default head's most probable class over the frame.")
    var overlay = false

    @Option(help: "With --overlay: gradcam, gradcam++, layercam or pocovid.")
    var method: String = "gradcam"

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Colormap of the heatmap: jet, turbo or inferno.")
    var colormap: Colormap = .jet

    @Option(help: "Heatmap opacity, 0–1.")
    var opacity: Float = 0.5

    @Option(help: "Heatmap values below this get no colour.")
    var threshold: Float?

    @Option(help: "Outline the heatmap region at this level.")
    var contour: Float?

    @Option(help: "Width of the image in pixels.")
    var width: Int = 480

    @Option(help: "Height of the image in pixels.")
    var height: Int = 480

    @Option(help: "Half-block output: text columns (default: WIDTH divided by the cell width).")
    var columns: Int?

    @Option(help: "Half-block output: text rows (default: HEIGHT divided by the cell height).")
    var rows: Int?

    @Option(help: "sixel, halfblock or none (default: whatever the terminal supports).")
    var graphics: GraphicsMode?

    @Option(help: ArgumentHelp("Store database (accepted for symmetry with other commands; unused here).", visibility: .hidden))
    var store: String?

    func validate() throws {
        guard (1...4096).contains(width), (1...4096).contains(height) else {
            throw ValidationError("--width and --height must be between 1 and 4096 pixels")
        }
        guard index >= 0 else { throw ValidationError("--index must be 0 or more") }
        guard (0...1).contains(opacity) else { throw ValidationError("--opacity must be between 0 and 1") }
        if let columns, columns < 1 { throw ValidationError("--columns must be at least 1") }
        if let rows, rows < 1 { throw ValidationError("--rows must be at least 1") }
    }

    func run() throws {
        let frame = try FrameLoader.frame(path: file, index: index)
        var map: PleuraRender.Heatmap?
        if let heatmap {
            map = try PleuraRender.Heatmap(numpy: NumpyArray.read(path: heatmap), file: heatmap)
        } else if overlay {
            guard let cam = CAMMethod(name: method) else {
                throw PleuraError(file: nil, "unknown --method \(method); use one of: "
                                  + CAMMethod.allCases.map(\.rawValue).joined(separator: ", "))
            }
            // The model sees the whole frame resized (no crop), so its map covers the whole frame.
            let model = try modelOptions.load()
            let result = try model.analyse(frame, targets: [.top(head: model.card.defaultHead)], methods: [cam])
            let m = result.heatmaps[0]
            map = PleuraRender.Heatmap(width: m.width, height: m.height, values: m.values)
        }
        let style = OverlayStyle(colormap: colormap, opacity: opacity, threshold: threshold, contour: contour)

        // Probe only when the terminal decides; an explicit --graphics never waits for it.
        let caps: TerminalCapabilities
        if graphics == nil || (graphics == .halfblock && (columns == nil || rows == nil)) {
            caps = TerminalProbe.probeControllingTerminal()
        } else {
            caps = TerminalProbe.fromEnvironment(ProcessInfo.processInfo.environment)
        }
        switch caps.graphics(override: graphics) {
        case .sixel:
            // Stay within the largest image the terminal says it accepts (xterm: its window).
            var w = width, h = height
            if let maxW = caps.maxSixelWidth, let maxH = caps.maxSixelHeight, w > maxW || h > maxH {
                let fit = Compositor.fittedRect(sourceWidth: w, sourceHeight: h, width: maxW, height: maxH)
                w = fit.width; h = fit.height
            }
            let pane = Compositor.compose(frame: frame, heatmap: map, style: style, width: w, height: h)
            let encoder = SixelEncoder(options: .init(maxColors: caps.colorRegisters ?? 256))
            writeStdout(try encoder.encode(pane))
        case .halfBlocks(let mode):
            let cell = caps.cellPixelSize
            var cols = columns ?? max(1, (width + cell.width / 2) / cell.width)
            var rws = rows ?? max(1, (height + cell.height / 2) / cell.height)
            if columns == nil, let c = caps.columns { cols = min(cols, c) }
            if rows == nil, let r = caps.rows { rws = min(rws, max(1, r - 1)) }
            // Composite at the cells' pixel size so the heatmap lands on the fitted frame only.
            let pane = Compositor.compose(frame: frame, heatmap: map, style: style, width: cols, height: rws * 2)
            let lines = HalfBlockRenderer.renderCells(pane, mode: mode)
            writeStdout(Array((lines.joined(separator: "\n") + "\n").utf8))
        case .off:
            let what = "\(SafeText.sanitize(file)): frame \(index), \(frame.width)×\(frame.height) (graphics off)\n"
            writeStdout(Array(what.utf8))
        }
    }
}

/// Writes all bytes to stdout with write(2) (no buffering surprises, retries short writes).
func writeStdout(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { buf in
        var offset = 0
        while offset < buf.count {
            let n = write(STDOUT_FILENO, buf.baseAddress! + offset, buf.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}
