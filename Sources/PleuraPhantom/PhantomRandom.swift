import PleuraCore

/// The phantom's own random numbers: xoshiro256** seeded through PleuraCore's SplitMix64.
///
/// Not Foundation's or the standard library's generators: "same seed, same bytes" must hold across
/// Swift releases, and the algorithms behind `Int.random(in:using:)` are an implementation detail
/// that may change. Everything here is fixed arithmetic on UInt64.
struct PhantomRandom {
    private var s0, s1, s2, s3: UInt64
    private var spareGaussian: Double?

    init(seed: UInt64) {
        var splitmix = SplitMix64(seed: seed)
        s0 = splitmix.next(); s1 = splitmix.next(); s2 = splitmix.next(); s3 = splitmix.next()
    }

    /// An independent stream for sub-task `index` of `seed` (clip i of a set), so clip i is the
    /// same whether 4 or 40 clips are made.
    init(seed: UInt64, stream index: UInt64) {
        self.init(seed: seed ^ (index &+ 1) &* 0xD1B5_4A32_D192_ED03)
    }

    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [a, b).
    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * uniform() }

    /// Uniform integer in the closed range (Lemire's multiply-high; the tiny bias is irrelevant here).
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound + 1)
        return range.lowerBound + Int(next().multipliedFullWidth(by: span).high)
    }

    mutating func bool(_ probability: Double = 0.5) -> Bool { uniform() < probability }

    /// Standard normal (Marsaglia's polar method; the second value of each pair is kept for the
    /// next call). No sine or cosine: an optimising build fuses sin(x) and cos(x) into one
    /// sincos call, whose last bit may differ, and debug and release builds must draw the same.
    mutating func gaussian() -> Double {
        if let g = spareGaussian { spareGaussian = nil; return g }
        var x = 0.0, y = 0.0, s = 0.0
        repeat {
            x = uniform(-1, 1)
            y = uniform(-1, 1)
            s = x * x + y * y
        } while s >= 1 || s == 0
        let scale = (-2 * log(s) / s).squareRoot()
        spareGaussian = y * scale
        return x * scale
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A smooth random function of one variable, sampled once at every integer position: value noise
/// with knots every `spacing` units and smoothstep blending, values in about −1…1. Used for the
/// wavy fascia, the pleura's granularity and irregularity, and the consolidation's ragged border.
struct SmoothNoise1D {
    /// `values[i]` is the noise at position `i - offset`.
    private(set) var values: [Float]
    let offset: Int

    init(range: Range<Int>, spacing: Double, rng: inout PhantomRandom) {
        offset = -range.lowerBound
        let knotCount = Int((Double(range.count) / spacing).rounded(.up)) + 2
        var knots: [Double] = []
        for _ in 0..<knotCount { knots.append(rng.uniform(-1, 1)) }
        values = (0..<range.count).map { i in
            let x = Double(i) / spacing
            let k = Int(x)
            let f = x - Double(k)
            let s = f * f * (3 - 2 * f)
            return Float(knots[k] * (1 - s) + knots[k + 1] * s)
        }
    }

    /// The noise at a fractional position (linear between samples, clamped at the ends).
    func callAsFunction(_ x: Float) -> Float {
        let p = x + Float(offset)
        if p <= 0 { return values[0] }
        let last = values.count - 1
        if p >= Float(last) { return values[last] }
        let i = Int(p)
        let f = p - Float(i)
        return values[i] + (values[i + 1] - values[i]) * f
    }
}

/// A fully developed speckle pattern: a complex Gaussian field blurred by a small point-spread
/// function (short axially, wider laterally, as a real beam), whose magnitude is Rayleigh
/// distributed with mean 1. Multiplying echogenicity by it gives ultrasound's grainy texture;
/// reading the same field frame after frame (shifted with the tissue) keeps the grain coherent
/// in time, so it looks like tissue, not TV noise.
struct SpeckleField {
    let depth: Int
    let width: Int
    /// Real and imaginary parts, row-major (depth rows of `width` samples), scaled so the
    /// magnitude has mean 1.
    private(set) var real: [Float]
    private(set) var imaginary: [Float]

    /// `lateralSigma(z)` is the lateral grain size at depth row `z`, in samples: in beam space it
    /// shrinks with depth so that on screen (where the lines fan out) the grain is about the same
    /// size, growing only as the beam widens.
    init(depth: Int, width: Int, axialSigma: Double, lateralSigma: (Int) -> Double, rng: inout PhantomRandom) {
        self.depth = depth
        self.width = width
        let count = depth * width
        var re = [Float](repeating: 0, count: count)
        var im = [Float](repeating: 0, count: count)
        for i in 0..<count {
            re[i] = Float(rng.gaussian())
            im[i] = Float(rng.gaussian())
        }
        let axial = SpeckleField.kernel(sigma: axialSigma)
        let lateral = (0..<depth).map { SpeckleField.kernel(sigma: lateralSigma($0)) }
        SpeckleField.blur(&re, depth: depth, width: width, axial: axial, lateral: lateral)
        SpeckleField.blur(&im, depth: depth, width: width, axial: axial, lateral: lateral)
        real = re
        imaginary = im
    }

    /// A normalised Gaussian kernel reaching out to 2.5 σ.
    static func kernel(sigma: Double) -> [Double] {
        let radius = max(1, Int((2.5 * sigma).rounded(.up)))
        var k = (-radius...radius).map { exp(-0.5 * Double($0 * $0) / (sigma * sigma)) }
        let sum = k.reduce(0, +)
        for i in k.indices { k[i] /= sum }
        return k
    }

    /// Separable blur with edge clamping.
    /// Separable blur with edge clamping, lateral kernel per row. Each row is rescaled so that a
    /// component has unit deviation after the lateral pass; after the axial pass the deviation is
    /// sqrt(Σa²), and a Rayleigh magnitude of components with deviation σ has mean σ·sqrt(π/2):
    /// the last scale makes the mean magnitude 1.
    private static func blur(_ field: inout [Float], depth: Int, width: Int, axial: [Double], lateral: [[Double]]) {
        var tmp = [Float](repeating: 0, count: field.count)
        let ar = axial.count / 2
        for z in 0..<depth {
            let row = z * width
            let kernel = lateral[z]
            let lr = kernel.count / 2
            let norm = 1 / kernel.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for x in 0..<width {
                var acc = 0.0
                for (j, w) in kernel.enumerated() {
                    let xx = min(max(x + j - lr, 0), width - 1)
                    acc += w * Double(field[row + xx])
                }
                tmp[row + x] = Float(acc * norm)
            }
        }
        let scale = 1 / (axial.reduce(0) { $0 + $1 * $1 }.squareRoot() * (Double.pi / 2).squareRoot())
        for z in 0..<depth {
            for x in 0..<width {
                var acc = 0.0
                for (j, w) in axial.enumerated() {
                    let zz = min(max(z + j - ar, 0), depth - 1)
                    acc += w * Double(tmp[zz * width + x])
                }
                field[z * width + x] = Float(acc * scale)
            }
        }
    }
}

/// A smooth random function of two variables (value noise on a square grid of knots every
/// `spacing` units, smoothstep blending), values in about −1…1, defined on [0, width)×[0, height)
/// and clamped outside. Gives a consolidation its blotchy, tissue-like brightness.
struct SmoothNoise2D {
    private let knots: [Float]
    private let columns: Int
    private let rows: Int
    private let spacing: Float

    init(width: Double, height: Double, spacing: Double, rng: inout PhantomRandom) {
        self.spacing = Float(spacing)
        columns = Int((width / spacing).rounded(.up)) + 2
        rows = Int((height / spacing).rounded(.up)) + 2
        var k: [Float] = []
        for _ in 0..<(columns * rows) { k.append(Float(rng.uniform(-1, 1))) }
        knots = k
    }

    func callAsFunction(_ x: Float, _ y: Float) -> Float {
        let gx = min(max(x / spacing, 0), Float(columns - 2) - 0.001)
        let gy = min(max(y / spacing, 0), Float(rows - 2) - 0.001)
        let ix = Int(gx), iy = Int(gy)
        var fx = gx - Float(ix), fy = gy - Float(iy)
        fx = fx * fx * (3 - 2 * fx)
        fy = fy * fy * (3 - 2 * fy)
        let a = knots[iy * columns + ix], b = knots[iy * columns + ix + 1]
        let c = knots[(iy + 1) * columns + ix], d = knots[(iy + 1) * columns + ix + 1]
        let top = a + (b - a) * fx, bottom = c + (d - c) * fx
        return top + (bottom - top) * fy
    }
}
