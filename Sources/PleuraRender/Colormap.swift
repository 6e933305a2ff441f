/// A colour scale from a heatmap value in [0, 1] to RGB, as 256-entry lookup tables.
///
/// - ``jet``: the reference default, matplotlib's `jet` (the map OpenCV's `COLORMAP_JET` and
///   pytorch-grad-cam's `show_cam_on_image` use), so Pleura's overlays look like the papers'.
/// - ``turbo``: Google's improved rainbow, from the polynomial fit published with it (within a
///   few levels of the table mid-range, up to ~25 levels off at the dark ends).
/// - ``inferno``: matplotlib's perceptually uniform, colour-blind-friendly map (polynomial fit,
///   within 1–2 levels of matplotlib's table).
///
/// ```swift
/// let (r, g, b) = Colormap.jet.rgb(0.8)
/// let cmap = Colormap(name: "turbo")   // from a session file or flag; nil when unknown
/// ```
public enum Colormap: String, CaseIterable, Sendable {
    case jet, turbo, inferno

    /// The colormap of that name (`jet`, `turbo`, `inferno`, any case), or nil.
    public init?(name: String) { self.init(rawValue: name.lowercased()) }

    /// The colour of `value` (clamped to [0, 1]; NaN counts as 0), rounded to 8 bits.
    @inlinable
    public func rgb(_ value: Float) -> (UInt8, UInt8, UInt8) {
        let i = Colormap.index(value)
        let t = table
        return (t[3 * i], t[3 * i + 1], t[3 * i + 2])
    }

    /// The 256 colours as interleaved RGB bytes (768 bytes); entry `i` is value `i / 255`.
    public var table: [UInt8] {
        switch self {
        case .jet: return Colormap.jetTable
        case .turbo: return Colormap.turboTable
        case .inferno: return Colormap.infernoTable
        }
    }

    /// The table index of a value: clamped, NaN as 0, rounded to the nearest of 256 steps.
    @inlinable
    public static func index(_ value: Float) -> Int {
        guard value > 0 else { return 0 }          // also catches NaN
        if value >= 1 { return 255 }
        return Int(value * 255 + 0.5)
    }

    private static func makeTable(_ f: (Double) -> (Double, Double, Double)) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 768)
        for i in 0..<256 {
            let (r, g, b) = f(Double(i) / 255)
            out[3 * i] = quantize(r); out[3 * i + 1] = quantize(g); out[3 * i + 2] = quantize(b)
        }
        return out
    }

    private static func quantize(_ v: Double) -> UInt8 { UInt8(max(0, min(255, (v * 255).rounded()))) }

    /// Piecewise-linear interpolation through (x, y) anchors, as matplotlib's segment data.
    private static func piecewise(_ x: Double, _ anchors: [(Double, Double)]) -> Double {
        if x <= anchors[0].0 { return anchors[0].1 }
        for k in 1..<anchors.count where x <= anchors[k].0 {
            let (x0, y0) = anchors[k - 1], (x1, y1) = anchors[k]
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        }
        return anchors[anchors.count - 1].1
    }

    /// matplotlib `_jet_data` segment anchors.
    static let jetTable: [UInt8] = makeTable { x in
        (piecewise(x, [(0, 0), (0.35, 0), (0.66, 1), (0.89, 1), (1, 0.5)]),
         piecewise(x, [(0, 0), (0.125, 0), (0.375, 1), (0.64, 1), (0.91, 0), (1, 0)]),
         piecewise(x, [(0, 0.5), (0.11, 1), (0.34, 1), (0.65, 0), (1, 0)]))
    }

    /// Turbo, polynomial approximation published with the colormap (A. Mikhailov, Google, 2019).
    static let turboTable: [UInt8] = makeTable { x in
        let r = 0.13572138 + x * (4.61539260 + x * (-42.66032258 + x * (132.13108234 + x * (-152.94239396 + x * 59.28637943))))
        let g = 0.09140261 + x * (2.19418839 + x * (4.84296658 + x * (-14.18503333 + x * (4.27729857 + x * 2.82956604))))
        let b = 0.10667330 + x * (12.64194608 + x * (-60.58204836 + x * (110.36276771 + x * (-89.90310912 + x * 27.34824973))))
        return (r, g, b)
    }

    /// Inferno, degree-6 polynomial fit of matplotlib's table (M. Zucker's fits of the viridis family).
    static let infernoTable: [UInt8] = makeTable { x in
        let c: [(Double, Double, Double)] = [
            (0.0002189403691192265, 0.001651004631001012, -0.01948089843709184),
            (0.1065134194856116, 0.5639564367884091, 3.932712388889277),
            (11.60249308247187, -3.972853965665698, -15.9423941062914),
            (-41.70399613139459, 17.43639888205313, 44.35414519872813),
            (77.162935699427, -33.40235894210092, -81.80730925738993),
            (-71.31942824499214, 32.62606426397723, 73.20951985803202),
            (25.13112622477341, -12.24266895238567, -23.07032500287172),
        ]
        var r = 0.0, g = 0.0, b = 0.0
        for k in stride(from: c.count - 1, through: 0, by: -1) {
            r = r * x + c[k].0; g = g * x + c[k].1; b = b * x + c[k].2
        }
        return (r, g, b)
    }
}
