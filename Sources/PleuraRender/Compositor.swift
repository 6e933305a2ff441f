import PleuraCore

/// A rectangle in pixels (origin top-left).
public struct PixelRect: Equatable, Sendable, CustomStringConvertible {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    public var description: String { "\(width)×\(height)+\(x)+\(y)" }
}

/// How a heatmap is drawn over a frame.
///
/// Each pixel with heatmap value `h` becomes `round(base · (1 − opacity) + colormap(h) · opacity)`
/// per channel; pixels with `h < threshold` keep the frame's own colour; pixels on the `contour`
/// level line get `contourColor` at full strength.
public struct OverlayStyle: Equatable, Sendable {
    public var colormap: Colormap
    /// Weight of the colour, 0 (invisible) to 1 (opaque). pytorch-grad-cam's default is 0.5.
    public var opacity: Float
    /// Values below this get no colour; nil colours everything.
    public var threshold: Float?
    /// Draw the outline of the region `h ≥ contour`; nil draws none.
    public var contour: Float?
    public var contourColor: (UInt8, UInt8, UInt8)

    public init(colormap: Colormap = .jet, opacity: Float = 0.5, threshold: Float? = nil,
                contour: Float? = nil, contourColor: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        self.colormap = colormap
        self.opacity = max(0, min(1, opacity))
        self.threshold = threshold
        self.contour = contour
        self.contourColor = contourColor
    }

    public static func == (a: OverlayStyle, b: OverlayStyle) -> Bool {
        a.colormap == b.colormap && a.opacity == b.opacity && a.threshold == b.threshold
            && a.contour == b.contour && a.contourColor == b.contourColor
    }
}

/// Puts frames into panes: scaling that keeps the aspect ratio (letterboxed with black bars),
/// and heatmap overlays. Pure Swift, deterministic, no terminal involved.
///
/// ```swift
/// // A frame with its Grad-CAM, fitted into a 480×360 pane:
/// let pane = Compositor.compose(frame: frame, heatmap: cam,
///                               style: OverlayStyle(colormap: .jet, opacity: 0.4, threshold: 0.2),
///                               width: 480, height: 360)
/// ```
public enum Compositor {
    /// Where an image of `sourceWidth × sourceHeight` lands when scaled to fit `width × height`
    /// keeping its aspect ratio, centred (the rest is letterbox).
    public static func fittedRect(sourceWidth: Int, sourceHeight: Int, width: Int, height: Int) -> PixelRect {
        guard sourceWidth > 0, sourceHeight > 0, width > 0, height > 0 else {
            return PixelRect(x: 0, y: 0, width: 0, height: 0)
        }
        // Compare aspect ratios in integers: sourceW/sourceH ≥ W/H ⇔ the width is the limit.
        var w: Int, h: Int
        if sourceWidth * height >= width * sourceHeight {
            w = width
            h = max(1, (sourceHeight * width + sourceWidth / 2) / sourceWidth)
        } else {
            h = height
            w = max(1, (sourceWidth * height + sourceHeight / 2) / sourceHeight)
        }
        w = min(w, width); h = min(h, height)
        return PixelRect(x: (width - w) / 2, y: (height - h) / 2, width: w, height: h)
    }

    /// The image scaled to fit `width × height` keeping its aspect ratio, centred on `background`
    /// (grey level). The result has the input's format.
    public static func letterbox(_ image: PixelImage, width: Int, height: Int, background: UInt8 = 0) -> PixelImage {
        let rect = fittedRect(sourceWidth: image.width, sourceHeight: image.height, width: width, height: height)
        let scaled = resize(image, width: rect.width, height: rect.height)
        return paste(scaled, at: rect, canvasWidth: width, canvasHeight: height, background: background)
    }

    /// The image resampled to exactly `width × height` (aspect not kept). Downscaling averages
    /// (an area-weighted triangle filter, no aliasing); upscaling interpolates bilinearly.
    /// Computes the filter weights on every call: a pane that scales every frame of a clip to the
    /// same size keeps a ``Resizer`` instead.
    public static func resize(_ image: PixelImage, width: Int, height: Int) -> PixelImage {
        if image.width == width && image.height == height { return image }
        return Resizer().resize(image, width: width, height: height)
    }

    /// `image` placed at `rect` on a `canvasWidth × canvasHeight` canvas of grey `background`
    /// (the image must already be `rect`'s size; parts outside the canvas are clipped).
    public static func paste(_ image: PixelImage, at rect: PixelRect, canvasWidth: Int, canvasHeight: Int,
                             background: UInt8 = 0) -> PixelImage {
        if rect.x == 0 && rect.y == 0 && image.width == canvasWidth && image.height == canvasHeight { return image }
        let ch = image.channels
        var out = [UInt8](repeating: background, count: canvasWidth * canvasHeight * ch)
        for y in 0..<image.height {
            let cy = rect.y + y
            guard cy >= 0, cy < canvasHeight else { continue }
            let x0 = max(0, -rect.x), x1 = min(image.width, canvasWidth - rect.x)
            guard x0 < x1 else { continue }
            let s = (y * image.width + x0) * ch, d = (cy * canvasWidth + rect.x + x0) * ch
            out.replaceSubrange(d..<(d + (x1 - x0) * ch), with: image.pixels[s..<(s + (x1 - x0) * ch)])
        }
        return PixelImage(width: canvasWidth, height: canvasHeight, format: image.format, pixels: out)
    }

    /// The frame with the heatmap drawn over it (see ``OverlayStyle`` for the formula). The
    /// heatmap is resampled bilinearly to the frame's size when the sizes differ. Returns RGB.
    public static func overlay(_ frame: PixelImage, heatmap: Heatmap, style: OverlayStyle) -> PixelImage {
        let map = heatmap.resized(width: frame.width, height: frame.height)
        let base = frame.toRGB()
        var out = base.pixels
        let table = style.colormap.table
        let a = style.opacity, keep = 1 - style.opacity
        let threshold = style.threshold
        let w = frame.width, h = frame.height
        // Both blend terms come from 256-entry tables (the products are the same floats as
        // computing them per pixel); x + 0.5 truncated is x rounded, as x is never negative.
        let kept = (0..<256).map { Float($0) * keep }
        let tinted = table.map { Float($0) * a }
        map.values.withUnsafeBufferPointer { hv in
            out.withUnsafeMutableBufferPointer { px in
              kept.withUnsafeBufferPointer { kept in
                tinted.withUnsafeBufferPointer { tinted in
                  for i in 0..<(w * h) {
                    let v = hv[i]
                    if let threshold, !(v >= threshold) { continue }
                    let ci = 3 * Colormap.index(v)
                    for c in 0..<3 {
                        let mixed = kept[Int(px[3 * i + c])] + tinted[ci + c]
                        px[3 * i + c] = UInt8(min(255, Int(mixed + 0.5)))
                    }
                  }
                }
              }
                if let level = style.contour {
                    let (cr, cg, cb) = style.contourColor
                    for y in 0..<h {
                        for x in 0..<w {
                            let i = y * w + x
                            guard hv[i] >= level else { continue }
                            let edge = (x > 0 && !(hv[i - 1] >= level)) || (x < w - 1 && !(hv[i + 1] >= level))
                                || (y > 0 && !(hv[i - w] >= level)) || (y < h - 1 && !(hv[i + w] >= level))
                            if edge { px[3 * i] = cr; px[3 * i + 1] = cg; px[3 * i + 2] = cb }
                        }
                    }
                }
            }
        }
        return PixelImage(width: w, height: h, format: .rgb24, pixels: out)
    }

    /// One call for a pane: the frame scaled to fit `width × height` (letterboxed), with the
    /// heatmap (if any) resampled to the frame's fitted rectangle and drawn over it. The letterbox
    /// bars never get colour. Returns RGB when there is a heatmap, else the frame's format.
    public static func compose(frame: PixelImage, heatmap: Heatmap?, style: OverlayStyle = OverlayStyle(),
                               width: Int, height: Int) -> PixelImage {
        let rect = fittedRect(sourceWidth: frame.width, sourceHeight: frame.height, width: width, height: height)
        var scaled = resize(frame, width: rect.width, height: rect.height)
        if let heatmap { scaled = overlay(scaled, heatmap: heatmap, style: style) }
        return paste(scaled, at: rect, canvasWidth: width, canvasHeight: height)
    }
}

/// ``Compositor/resize(_:width:height:)`` for a stream of frames: the filter weights of the last
/// geometry (input and output size) are kept, so a clip's frames, all the same size, pay for them
/// once. Fixed-point arithmetic (weights in 1/4096, the horizontal pass kept at 1/16 of a grey
/// level), which is within ±1 grey level of the exact filter and keeps flat areas exact.
/// Not thread-safe: one per pane (or per thread).
public final class Resizer {
    private var plan: (inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int, x: Resampler, y: Resampler)?
    /// The horizontal pass's rows, reused from frame to frame.
    private var mid: [Int32] = []
    /// One output row's sums in the vertical pass.
    private var rowSums: [Int32] = []

    public init() {}

    /// The image resampled to exactly `width × height`, in the input's format.
    public func resize(_ image: PixelImage, width: Int, height: Int) -> PixelImage {
        if image.width == width && image.height == height { return image }
        guard width > 0, height > 0, image.width > 0, image.height > 0 else {
            return PixelImage(width: max(0, width), height: max(0, height), format: image.format)
        }
        if let p = plan, p.inWidth == image.width, p.inHeight == image.height, p.outWidth == width, p.outHeight == height {} else {
            plan = (image.width, image.height, width, height,
                    Resampler(input: image.width, output: width), Resampler(input: image.height, output: height))
        }
        let xw = plan!.x, yw = plan!.y
        let ch = image.channels, inW = image.width, inH = image.height
        let rowLen = width * ch
        if mid.count < rowLen * inH { mid = [Int32](repeating: 0, count: rowLen * inH) }
        if rowSums.count < rowLen { rowSums = [Int32](repeating: 0, count: rowLen) }
        var out = [UInt8](repeating: 0, count: width * height * ch)
        image.pixels.withUnsafeBufferPointer { src in
            mid.withUnsafeMutableBufferPointer { mid in
                xw.starts.withUnsafeBufferPointer { starts in
                    xw.counts.withUnsafeBufferPointer { counts in
                        xw.weights.withUnsafeBufferPointer { weights in
                            // Horizontal: Σ pixel · weight (weights sum to 4096), kept at 1/16 grey level.
                            for y in 0..<inH {
                                let srow = y * inW * ch, drow = y * rowLen
                                if ch == 3 {
                                    for ox in 0..<width {
                                        var p = srow + starts[ox] * 3, wi = ox * xw.maxTaps
                                        var r: Int32 = 0, g: Int32 = 0, b: Int32 = 0
                                        for _ in 0..<counts[ox] {
                                            let w = weights[wi]
                                            r &+= Int32(src[p]) &* w; g &+= Int32(src[p + 1]) &* w; b &+= Int32(src[p + 2]) &* w
                                            p += 3; wi += 1
                                        }
                                        let d = drow + 3 * ox
                                        mid[d] = (r &+ 128) >> 8; mid[d + 1] = (g &+ 128) >> 8; mid[d + 2] = (b &+ 128) >> 8
                                    }
                                } else {
                                    for ox in 0..<width {
                                        let p = srow + starts[ox] * ch, wi = ox * xw.maxTaps
                                        for c in 0..<ch {
                                            var acc: Int32 = 0
                                            var q = p + c, wj = wi
                                            for _ in 0..<counts[ox] { acc &+= Int32(src[q]) &* weights[wj]; q += ch; wj += 1 }
                                            mid[drow + ox * ch + c] = (acc &+ 128) >> 8
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        mid.withUnsafeBufferPointer { mid in
            rowSums.withUnsafeMutableBufferPointer { acc in
                out.withUnsafeMutableBufferPointer { dst in
                    yw.weights.withUnsafeBufferPointer { weights in
                        // Vertical: whole rows at a time (the inner loops run along the row, which
                        // the compiler vectorises).
                        for oy in 0..<height {
                            let start = yw.starts[oy], n = yw.counts[oy], wbase = oy * yw.maxTaps
                            let w0 = weights[wbase]
                            var r = start * rowLen
                            for i in 0..<rowLen { acc[i] = mid[r + i] &* w0 }
                            if n > 1 {
                                for k in 1..<n {
                                    let w = weights[wbase + k]
                                    r = (start + k) * rowLen
                                    for i in 0..<rowLen { acc[i] &+= mid[r + i] &* w }
                                }
                            }
                            // 16 (horizontal pass) · 4096 (weights) = 2^16 per grey level: round, clamp.
                            let drow = oy * rowLen
                            for i in 0..<rowLen {
                                let v = (acc[i] &+ 32768) >> 16
                                dst[drow + i] = UInt8(truncatingIfNeeded: min(255, max(0, v)))
                            }
                        }
                    }
                }
            }
        }
        return PixelImage(width: width, height: height, format: image.format, pixels: out)
    }
}

/// Separable resampling weights for one axis: a triangle filter whose support widens with the
/// downscale factor (so every input pixel contributes: area-like averaging), bilinear upward.
/// Weights are integers in 1/4096 summing to exactly 4096 per output sample (flat stays flat).
struct Resampler {
    var starts: [Int]
    var counts: [Int]
    var weights: [Int32]
    var maxTaps: Int

    static let one: Int32 = 4096

    init(input: Int, output: Int) {
        let scale = Double(input) / Double(output)
        let support = max(1.0, scale)
        maxTaps = Int((support * 2).rounded(.up)) + 2
        starts = [Int](repeating: 0, count: output)
        counts = [Int](repeating: 0, count: output)
        weights = [Int32](repeating: 0, count: output * maxTaps)
        for o in 0..<output {
            let center = (Double(o) + 0.5) * scale
            let lo = max(0, Int((center - support).rounded(.down)))
            let hi = min(input, Int((center + support).rounded(.up)))
            var ws: [Double] = []
            for i in lo..<hi {
                let d = abs((Double(i) + 0.5 - center) / support)
                ws.append(max(0, 1 - d))
            }
            // Trim zero weights at both ends so loops stay short.
            var first = 0, last = ws.count - 1
            while first < last && ws[first] == 0 { first += 1 }
            while last > first && ws[last] == 0 { last -= 1 }
            let kept = Array(ws[first...last].prefix(maxTaps))
            let total = kept.reduce(0, +)
            starts[o] = lo + first
            counts[o] = kept.count
            var fixed = kept.map { Int32((total > 0 ? $0 / total : 0) * Double(Self.one) + 0.5) }
            if total <= 0 { fixed = [Self.one] + [Int32](repeating: 0, count: kept.count - 1) }
            // Rounding may leave the sum a unit or two off 4096: the largest weight takes it up.
            let residue = Self.one - fixed.reduce(0, +)
            if let big = fixed.indices.max(by: { fixed[$0] < fixed[$1] }) { fixed[big] += residue }
            for k in 0..<counts[o] { weights[o * maxTaps + k] = fixed[k] }
        }
    }
}
