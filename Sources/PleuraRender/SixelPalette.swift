import PleuraCore

/// An 8-bit RGB colour.
public struct RGBColour: Hashable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
}

/// The colours a ``SixelEncoder`` uses for one clip: a brightness ramp fitted to the clip, then
/// (when the frames have colour: a heatmap overlay, a coloured marker) colours for the coloured
/// pixels. Up to 256 entries in total.
///
/// Why a fitted ramp: LUS frames are grey (or slightly tinted) speckle on black, and sixel output
/// grows with the number of distinct colours in each six-pixel column, so the fewest levels that
/// still reach the quality target give the smallest output. The ramp quantises brightness (the
/// channel mean) with Lloyd–Max levels (the squared-error-minimising quantiser of a 1-D
/// distribution), and each level's colour is the mean colour of the pixels it stands for: grey for
/// grey frames, the scanner's tint for tinted ones. Its error is known exactly before encoding.
public struct SixelPalette: Equatable, Sendable {
    /// Ramp entries (palette entries `0..<ramp.count`), ascending brightness.
    public let ramp: [RGBColour]
    /// Further colours (entries `ramp.count...`).
    public let colours: [RGBColour]
    /// Brightness (channel mean, 0–255) → ramp entry.
    let rampIndex: [UInt8]
    /// Brightness → the colour pixels of that brightness have on average (the tint curve), used to
    /// decide whether a pixel belongs to the ramp or needs a colour entry.
    let tint: [RGBColour]

    public var count: Int { ramp.count + colours.count }

    init(ramp: [RGBColour], rampIndex: [UInt8], tint: [RGBColour], colours: [RGBColour]) {
        precondition(ramp.count + colours.count <= 256, "more than 256 palette entries")
        precondition(!ramp.isEmpty, "a palette needs at least one ramp entry")
        self.ramp = ramp.map(Self.representable)
        self.rampIndex = rampIndex
        self.tint = tint
        self.colours = colours.map(Self.representable)
    }

    /// The colour a terminal shows for `c`: sixel palettes are given in whole percent, so libsixel
    /// writes `(v·100 + 127) / 255` and decoders read back `(p·255 + 50) / 100`. Fitting with the
    /// shown colours keeps the encoder's error estimate exact.
    static func representable(_ c: RGBColour) -> RGBColour {
        func snap(_ v: UInt8) -> UInt8 {
            let percent: Int = (Int(v) * 100 + 127) / 255
            return UInt8((percent * 255 + 50) / 100)
        }
        return RGBColour(snap(c.r), snap(c.g), snap(c.b))
    }

    /// Palette entry `i`.
    public func colour(_ i: Int) -> RGBColour { i < ramp.count ? ramp[i] : colours[i - ramp.count] }

    /// The palette as interleaved RGB bytes, as libsixel takes it.
    var bytes: [UInt8] {
        (ramp + colours).flatMap { [$0.r, $0.g, $0.b] }
    }
}

/// Per-brightness statistics of the pixels that belong to the ramp, with prefix sums so that any
/// brightness interval's weight, centroid and squared error cost O(1).
struct RampStatistics {
    /// Prefix sums over brightness bins: count, Σ brightness, Σr, Σg, Σb, Σ(r²+g²+b²).
    private var w = [Double](repeating: 0, count: 257)
    private var s = [Double](repeating: 0, count: 257)
    private var sr = [Double](repeating: 0, count: 257)
    private var sg = [Double](repeating: 0, count: 257)
    private var sb = [Double](repeating: 0, count: 257)
    private var qq = [Double](repeating: 0, count: 257)

    /// `bins[m]` = (count, Σr, Σg, Σb, Σ(r²+g²+b²)) of the ramp pixels of brightness `m`.
    init(bins: [(Double, Double, Double, Double, Double)]) {
        for m in 0..<256 {
            let b = bins[m]
            w[m + 1] = w[m] + b.0; s[m + 1] = s[m] + b.0 * Double(m)
            sr[m + 1] = sr[m] + b.1; sg[m + 1] = sg[m] + b.2; sb[m + 1] = sb[m] + b.3; qq[m + 1] = qq[m] + b.4
        }
    }

    var total: Double { w[256] }

    func weight(_ lo: Int, _ hi: Int) -> Double { w[hi + 1] - w[lo] }

    /// Mean brightness of `lo...hi` (nil when empty).
    func meanBrightness(_ lo: Int, _ hi: Int) -> Double? {
        let n = weight(lo, hi)
        return n > 0 ? (s[hi + 1] - s[lo]) / n : nil
    }

    /// Mean colour of `lo...hi` (nil when empty).
    func centroid(_ lo: Int, _ hi: Int) -> RGBColour? {
        let n = weight(lo, hi)
        guard n > 0 else { return nil }
        func c(_ a: [Double]) -> UInt8 { UInt8(max(0, min(255, ((a[hi + 1] - a[lo]) / n).rounded()))) }
        return RGBColour(c(sr), c(sg), c(sb))
    }

    /// Squared error (summed over channels) of mapping `lo...hi` to `colour`.
    func error(_ lo: Int, _ hi: Int, to colour: RGBColour) -> Double {
        let n = weight(lo, hi)
        guard n > 0 else { return 0 }
        let r = Double(colour.r), g = Double(colour.g), b = Double(colour.b)
        let e = (qq[hi + 1] - qq[lo]) - 2 * (r * (sr[hi + 1] - sr[lo]) + g * (sg[hi + 1] - sg[lo]) + b * (sb[hi + 1] - sb[lo]))
            + n * (r * r + g * g + b * b)
        return max(0, e)
    }

    /// Brightness intervals of levels (nearest level wins; ties go to the darker).
    static func cells(_ levels: [Int]) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        var lo = 0
        for i in levels.indices {
            let hi = i + 1 < levels.count ? (levels[i] + levels[i + 1]) / 2 : 255
            out.append((lo, hi)); lo = hi + 1
        }
        return out
    }

    /// Each level's colour (its cell's centroid) and the total error.
    func evaluate(_ levels: [Int]) -> (colours: [RGBColour], error: Double) {
        var colours: [RGBColour] = [], error = 0.0
        for (level, (lo, hi)) in zip(levels, Self.cells(levels)) {
            let c = centroid(lo, hi) ?? RGBColour(UInt8(level), UInt8(level), UInt8(level))
            colours.append(c)
            error += self.error(lo, hi, to: c)
        }
        return (colours, error)
    }

    /// Lloyd iterations on brightness: each level moves to its cell's mean brightness.
    func refine(_ start: [Int]) -> [Int] {
        var levels = start
        for _ in 0..<30 {
            var next: [Int] = []
            for (level, (lo, hi)) in zip(levels, Self.cells(levels)) {
                next.append(meanBrightness(lo, hi).map { Int($0.rounded()) } ?? level)
            }
            next = Array(Set(next)).sorted()
            if next == levels { break }
            levels = next
        }
        return levels
    }

    /// The fewest ramp levels (at most `maxLevels`) whose squared error stays within `errorBudget`.
    ///
    /// Levels grow by splitting: start from the mean, split the cell with the largest error at its
    /// mean brightness into the two halves' means, run Lloyd iterations, repeat. Splitting (rather
    /// than starting from quantiles) keeps levels apart even when most pixels are black.
    func fitLevels(errorBudget: Double, maxLevels: Int) -> [Int] {
        guard let mean = meanBrightness(0, 255) else { return [0] }
        var levels = [Int(mean.rounded())]
        var error = evaluate(levels).error
        while error > errorBudget && levels.count < maxLevels {
            let ranges = Self.cells(levels)
            let colours = evaluate(levels).colours
            var worst = -1, worstError = 0.0
            for (i, (lo, hi)) in ranges.enumerated() {
                let e = self.error(lo, hi, to: colours[i])
                if e > worstError && lo < hi { worstError = e; worst = i }
            }
            guard worst >= 0 else { break }
            let (lo, hi) = ranges[worst]
            let mid = min(hi - 1, max(lo, Int(meanBrightness(lo, hi) ?? Double(lo))))
            let split = [(lo, mid), (mid + 1, hi)].compactMap { meanBrightness($0.0, $0.1).map { Int($0.rounded()) } }
            guard split.count == 2 else { break }
            var next = levels
            next.remove(at: worst)
            next = refine(Array(Set(next + split)).sorted())
            let nextError = evaluate(next).error
            if next.count <= levels.count && nextError >= error { break }     // no progress possible
            levels = next; error = nextError
        }
        return levels
    }

    /// Brightness at quantile `q` of the pixels brighter than 8 (the picture, not its black
    /// background), or nil when there are none.
    func quantile(_ q: Double) -> Int? {
        let base = w[9], n = w[256] - base
        guard n > 0 else { return nil }
        for m in 9..<256 where w[m + 1] - base > q * n { return m }
        return 255
    }

    /// `levels` with levels added halfway into every gap wider than `maxStep` that lies inside
    /// the 1st–99th percentile of brightness, until none is left or `maxLevels` is reached.
    /// No Lloyd step follows: it would pull the new levels back to where pixels are dense.
    func closingGaps(_ levels: [Int], maxStep: Int, maxLevels: Int) -> [Int] {
        guard let lo = quantile(0.01), let hi = quantile(0.99), maxStep > 0 else { return levels }
        var out = levels
        while out.count < maxLevels {
            var widest = -1, gap = maxStep
            for i in out.indices.dropLast() where out[i + 1] >= lo && out[i] <= hi && out[i + 1] - out[i] > gap {
                gap = out[i + 1] - out[i]; widest = i
            }
            // The range's ends count too: a first level above lo or a last below hi leaves a gap.
            if widest < 0 {
                if let first = out.first, first - lo > maxStep { out.insert(max(lo, first - maxStep), at: 0); continue }
                if let last = out.last, hi - last > maxStep { out.append(min(hi, last + maxStep)); continue }
                break
            }
            out.insert((out[widest] + out[widest + 1]) / 2, at: widest + 1)
        }
        return out
    }
}
