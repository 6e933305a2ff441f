#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PleuraCore

/// One synthetic LUS clip: draws frame `t` and says what it shows.
///
/// The picture is the product of an echogenicity map (what reflects how strongly) and a speckle
/// field (the grain), attenuated with depth and log-compressed, as a scanner does:
/// - chest wall (skin, fat, fascia, striated muscle) with one or two ribs, each a bright arc with
///   a black acoustic shadow below; the wall is still, its speckle fixed;
/// - the pleural line between the ribs, bright and granular, sliding sideways with breathing
///   (its granularity, the speckle below it and every lung finding move with the lung surface);
/// - A-lines: reverberations of the pleura at 2, 3, 4 × its depth, fading with depth;
/// - B-lines: beam-wide bright streaks from the pleura to the bottom that erase the A-lines,
///   separate (B1) or merged into a white area (B2), coming and going with the breath;
/// - consolidation: tissue-like (liver-like) speckle under a broken pleura with a ragged, shredded
///   deep border and, when large, air bronchograms.
struct PhantomClip {
    let spec: PhantomClipSpec
    let geometry: SectorGeometry

    /// Still parts: chest-wall echogenicity, its speckle, and the rib shadows per beam line.
    private let chestWall: [Float]
    private let tissueSpeckle: SpeckleField
    private let shadowStart: [Int]
    let shadowFactor: [Float]
    /// Lung parts, in lung coordinates (beam line + slide + `margin`): two speckle fields blended
    /// over time (the lung's texture shimmers) and the pleura's character.
    private let lungSpeckleA: SpeckleField
    private let lungSpeckleB: SpeckleField
    private let margin: Int
    private let pleuraGrain: SmoothNoise1D
    private let pleuraRagged: SmoothNoise1D
    private let pleuraGapNoise: SmoothNoise1D
    private let confluentStreaks: SmoothNoise1D
    private let consolidationEdge: SmoothNoise1D
    private let shredNoise: SmoothNoise1D
    private let tissueBlotches: SmoothNoise2D
    private let tissueBlotchesFine: SmoothNoise2D
    private let depthGain: [Float]

    /// Log compression: echo amplitudes from `floor` to `ceiling` span black to white.
    private static let floorAmplitude: Float = 0.02
    private static let ceilingAmplitude: Float = 12

    init(spec: PhantomClipSpec, geometry: SectorGeometry, rng: inout PhantomRandom) {
        self.spec = spec
        self.geometry = geometry
        let depth = geometry.depthSamples, lines = geometry.lines
        margin = Int(spec.slideAmplitude.rounded(.up)) + 4
        let lungRange = -margin..<(lines + margin)

        // Speckle grain: σ about 1.1 px across near the probe, growing to 1.8 px at depth as the beam
        // widens; 1.1 px along the beam (axial resolution is better than lateral).
        let grain: (Int) -> Double = { z in
            (1.1 + 0.7 * Double(z) / Double(depth)) / geometry.linePitch(depth: Double(z))
        }
        tissueSpeckle = SpeckleField(depth: depth, width: lines, axialSigma: 1.1, lateralSigma: grain, rng: &rng)
        lungSpeckleA = SpeckleField(depth: depth, width: lines + 2 * margin, axialSigma: 1.1, lateralSigma: grain, rng: &rng)
        lungSpeckleB = SpeckleField(depth: depth, width: lines + 2 * margin, axialSigma: 1.1, lateralSigma: grain, rng: &rng)
        pleuraGrain = SmoothNoise1D(range: lungRange, spacing: 2.5, rng: &rng)
        pleuraRagged = SmoothNoise1D(range: lungRange, spacing: 6, rng: &rng)
        pleuraGapNoise = SmoothNoise1D(range: lungRange, spacing: 9, rng: &rng)
        confluentStreaks = SmoothNoise1D(range: lungRange, spacing: 3, rng: &rng)
        consolidationEdge = SmoothNoise1D(range: lungRange, spacing: 10, rng: &rng)
        shredNoise = SmoothNoise1D(range: lungRange, spacing: 3, rng: &rng)
        tissueBlotches = SmoothNoise2D(width: Double(lines + 2 * margin), height: Double(depth), spacing: 14, rng: &rng)
        tissueBlotchesFine = SmoothNoise2D(width: Double(lines + 2 * margin), height: Double(depth), spacing: 5, rng: &rng)

        // Residual attenuation after the time-gain compensation: the far field is darker.
        depthGain = (0..<depth).map { Float(exp(-1.0 * Double($0) / Double(depth))) }

        // Chest wall: skin, subcutaneous fat with thin septa, a fascia, striated muscle with an
        // intermuscular fascia, then the ribs.
        var wall = [Float](repeating: 0, count: depth * lines)
        let fatEnd = rng.uniform(14, 22)
        let fascia2 = fatEnd + rng.uniform(0.35, 0.6) * (spec.pleuraDepth - 14 - fatEnd)
        let wave = SmoothNoise1D(range: 0..<lines, spacing: 40, rng: &rng)
        let striation = SmoothNoise1D(range: -8..<(depth + 8), spacing: 3.5, rng: &rng)
        let septa = SmoothNoise1D(range: -8..<(depth + 8), spacing: 5, rng: &rng)
        let gain = Float(spec.tissueGain)
        for l in 0..<lines {
            let w = Double(wave(Float(l)))
            for z in 0..<depth {
                let zd = Double(z)
                var e: Double
                if zd < 3 {
                    e = 2.2
                } else if zd < fatEnd {
                    let s = Double(septa(Float(zd + 2 * w)))
                    e = 0.22 + (s > 0.6 ? 0.9 * (s - 0.6) / 0.4 : 0)
                } else {
                    e = 0.35 * (1 + 0.3 * Double(striation(Float(zd + 2.5 * w))))
                }
                e += 1.4 * exp(-pow((zd - fatEnd - 2 * w) / 1.3, 2))
                e += 1.1 * exp(-pow((zd - fascia2 - 2.5 * w) / 1.2, 2))
                wall[z * lines + l] = Float(e) * gain
            }
        }
        var start = [Int](repeating: depth, count: lines)
        var factor = [Float](repeating: 1, count: lines)
        for rib in spec.ribs {
            for l in 0..<lines {
                let x = (Double(l) - rib.center) / rib.halfWidth
                guard abs(x) < 1.15 || ((rib.center < Double(lines) / 2) == (x < 0)) else { continue }
                // The rib's round top: an arc, shallowest in the middle.
                let surface = rib.depth + 7 * min(x * x, 1.3)
                // The shadow reaches the fan's edge on the rib's outer side (the next rib space is
                // out of view), and fades over a few lines on the side facing the window.
                let outward = (rib.center < Double(lines) / 2) == (x < 0)
                let cover = outward ? 1 : min(max((1.15 - abs(x)) / 0.3, 0), 1)
                factor[l] = min(factor[l], Float(1 - 0.997 * cover))
                start[l] = min(start[l], Int(surface + 3))
                for z in max(0, Int(surface) - 5)..<min(depth, Int(surface) + 6) {
                    let zd = Double(z)
                    wall[z * lines + l] += Float((abs(x) < 1.15 ? 1 : 0) * cover * 7 * exp(-pow((zd - surface) / 1.8, 2)))
                }
            }
        }
        chestWall = wall
        shadowStart = start
        shadowFactor = factor
    }

    var frameCount: Int { spec.frameCount }

    // MARK: Per-frame state of the lung

    /// What every beam line shows at frame `t`.
    struct LineState {
        var pleura: [Float]        // pleural depth (ragged)
        var pleuraSmooth: [Float]  // pleural depth without the raggedness (A-lines repeat this)
        var pleuraBrightness: [Float]
        var aLineBrightness: [Float]
        var bBrightness: [Float]   // B-line echogenicity added below the pleura
        var bCover: [Float]        // 0…1: how much of the line a B-line or white area covers
        var b1Cover: [Float]
        var b2Cover: [Float]
        var consolidationDepth: [Float]
        var bLineCenters: [(line: Double, visibility: Double)]
        var confluentVisibility: Double
    }

    func lineState(_ t: Int) -> LineState {
        let lines = geometry.lines
        let shift = spec.slide(t)
        let phase = spec.phase(t)
        var s = LineState(pleura: [], pleuraSmooth: [], pleuraBrightness: [], aLineBrightness: [],
                          bBrightness: [], bCover: [], b1Cover: [], b2Cover: [], consolidationDepth: [],
                          bLineCenters: [], confluentVisibility: 0)
        s.bLineCenters = spec.bLines.map { b in
            (b.position - shift, PhantomClipSpec.gate(phase, offset: b.phase, threshold: b.threshold))
        }
        if let c = spec.confluent { s.confluentVisibility = PhantomClipSpec.gate(phase, offset: c.phase, threshold: c.threshold) }
        for l in 0..<lines {
            let u = Double(l) + shift
            let uf = Float(u)
            let smooth = spec.pleuraDepth + spec.pleuraTilt * (Double(l) / Double(lines) - 0.5)
            let ragged = smooth + spec.pleuraIrregularity * Double(pleuraRagged(uf))
            var brightness = 6.0 * (0.65 + 0.35 * Double(pleuraGrain(uf)))
            if spec.pleuraGaps > 0, Double(pleuraGapNoise(uf)) < -1 + 2 * spec.pleuraGaps {
                brightness *= 0.3
            }
            var b1 = 0.0, b1Add = 0.0
            for b in spec.bLines {
                let v = PhantomClipSpec.gate(phase, offset: b.phase, threshold: b.threshold)
                guard v > 0 else { continue }
                let x = (u - b.position) / b.halfWidth
                let profile = exp(-x * x)
                b1 += v * profile
                b1Add += v * profile * 2.0 * b.strength
            }
            var b2 = 0.0, b2Add = 0.0
            if let c = spec.confluent, s.confluentVisibility > 0 {
                let half = c.halfWidth * (1 + c.breathing * sin(phase + c.phase))
                let inside = 1 / (1 + exp(-(half - abs(u - c.center)) / 2.5))
                b2 = s.confluentVisibility * inside
                b2Add = b2 * 1.5 * (0.7 + 0.3 * Double(confluentStreaks(uf)))
            }
            var consolidation = 0.0
            if let c = spec.consolidation {
                let x = (u - c.center) / c.halfWidth
                if abs(x) < 1 {
                    let dome = (1 - x * x).squareRoot()
                    consolidation = max(0, c.depth * dome * (1 + 0.14 * Double(consolidationEdge(uf))))
                    // The pleura over a consolidation is broken and faint.
                    brightness *= 0.45 + 0.55 * (1 - dome)
                }
            }
            let consCover = consolidation > 4 ? 1.0 : consolidation / 4
            let cover = min(1, b1 + b2)
            s.pleura.append(Float(ragged))
            s.pleuraSmooth.append(Float(smooth))
            s.pleuraBrightness.append(Float(brightness))
            s.aLineBrightness.append(Float(spec.aLineGain * max(0, 1 - cover - consCover)))
            s.bBrightness.append(Float(b1Add + b2Add))
            s.bCover.append(Float(cover))
            s.b1Cover.append(Float(b1))
            s.b2Cover.append(Float(b2))
            s.consolidationDepth.append(Float(consolidation))
        }
        return s
    }

    // MARK: Drawing

    /// Frame `t` (0-based) as a grey picture, black outside the fan.
    func frame(_ t: Int) -> PixelImage {
        geometry.scanConvert(beamFrame(t))
    }

    /// Frame `t` in beam space: grey levels 0–255, `depthSamples` rows of `lines` samples.
    func beamFrame(_ t: Int) -> [Float] {
        let depth = geometry.depthSamples, lines = geometry.lines
        let state = lineState(t)
        let shift = spec.slide(t)
        // The lung's texture decorrelates slowly: a rotation between two independent fields keeps
        // the Rayleigh statistics while the grain changes over about two seconds.
        let angle = 0.05 * Double(t)
        // (cos as a shifted sin: an optimising build would fuse sin and cos into sincos.)
        let ca = Float(sin(angle + Double.pi / 2)), sa = Float(sin(angle))
        let lungWidth = lines + 2 * margin
        let lnFloor = log(Self.floorAmplitude)
        let lnScale = 255 / (log(Self.ceilingAmplitude) - lnFloor)
        var out = [Float](repeating: 0, count: depth * lines)
        let bronchograms = spec.consolidation?.bronchograms ?? []

        chestWall.withUnsafeBufferPointer { wall in
        tissueSpeckle.real.withUnsafeBufferPointer { tr in
        tissueSpeckle.imaginary.withUnsafeBufferPointer { ti in
        lungSpeckleA.real.withUnsafeBufferPointer { ar in
        lungSpeckleA.imaginary.withUnsafeBufferPointer { ai in
        lungSpeckleB.real.withUnsafeBufferPointer { br in
        lungSpeckleB.imaginary.withUnsafeBufferPointer { bi in
        out.withUnsafeMutableBufferPointer { o in
            for l in 0..<lines {
                let position = Float(Double(l) + shift + Double(margin))
                let p0 = min(max(Int(position), 0), lungWidth - 2)
                let pf = position - Float(p0)
                let u = Float(Double(l) + shift)
                let zp = state.pleura[l], zs = state.pleuraSmooth[l]
                let pleuraAmp = state.pleuraBrightness[l]
                let aAmp = state.aLineBrightness[l]
                let bAdd = state.bBrightness[l], bCover = state.bCover[l]
                let consDepth = state.consolidationDepth[l]
                let shadowAt = shadowStart[l], shadow = shadowFactor[l]
                let lungTop = Int(zp - 3)
                let edge = shredNoise(u)
                for z in 0..<depth {
                    let zf = Float(z)
                    var e: Float
                    var speckle: Float
                    if z < lungTop {
                        e = wall[z * lines + l]
                        let i = z * lines + l
                        speckle = (tr[i] * tr[i] + ti[i] * ti[i]).squareRoot()
                    } else {
                        let row = z * lungWidth + p0
                        let re = ca * (ar[row] + (ar[row + 1] - ar[row]) * pf) + sa * (br[row] + (br[row + 1] - br[row]) * pf)
                        let im = ca * (ai[row] + (ai[row + 1] - ai[row]) * pf) + sa * (bi[row] + (bi[row + 1] - bi[row]) * pf)
                        speckle = (re * re + im * im).squareRoot()
                        let d = zf - zp
                        if d < 0 {
                            e = wall[z * lines + l]
                        } else if d < consDepth {
                            // Consolidated lung: tissue-like, as bright as muscle and blotchy,
                            // merging into the aerated lung over its last few samples.
                            let inside = min((consDepth - d) / 6, 1)
                            e = (0.05 + 0.11 * exp(-d / 40)) * (1 - inside)
                                + inside * 0.62 * (1 + 0.35 * consolidationTexture(u, d))
                            for b in bronchograms {
                                let dz = (Double(d) - b.depth) / b.radius
                                let du = (Double(u) - b.position) / (b.radius * 1.6)
                                let r2 = dz * dz + du * du
                                if r2 < 9 { e += Float(5 * exp(-r2)) }
                            }
                        } else {
                            // Aerated lung: a faint haze, the A-line reverberations and B-lines.
                            e = 0.05 + 0.11 * exp(-d / 40)
                            if aAmp > 0 {
                                let k = (zf / zs).rounded()
                                if k >= 2 {
                                    let sigma = 2.0 + 0.6 * (k - 2)
                                    let x = (zf - k * zs) / sigma
                                    if abs(x) < 4 { e += aAmp * 3.4 * pow(0.5, k - 2) * exp(-x * x) }
                                }
                            }
                            if bAdd > 0 { e += bAdd * min(1, (d + 2) / 5) }
                        }
                        if consDepth > 0 {
                            // The deep border of a consolidation: bright, ragged shreds.
                            let x = (d - consDepth) / 1.8
                            if abs(x) < 4 && edge > 0.1 { e += 3 * (edge - 0.1) * exp(-x * x) }
                        }
                        let x = d / 2.2
                        if abs(x) < 4 { e += pleuraAmp * exp(-x * x) }
                        // B-lines are laser-like: their grain is smoother than tissue's.
                        if bCover > 0 && d > 0 && d >= consDepth { speckle += (1 - speckle) * 0.55 * bCover }
                    }
                    var v = e * speckle * depthGain[z]
                    if z >= shadowAt { v *= shadow }
                    let g = (log(max(v, 1e-6)) - lnFloor) * lnScale
                    o[z * lines + l] = min(max(g, 0), 255)
                }
            }
        }}}}}}}}
        return out
    }

    /// Slow, blotchy brightness variation inside a consolidation (−1…1), so it looks like
    /// heterogeneous tissue rather than a flat patch.
    private func consolidationTexture(_ u: Float, _ d: Float) -> Float {
        let x = u + Float(margin)
        return 0.65 * tissueBlotches(x, d) + 0.35 * tissueBlotchesFine(x, d)
    }

    // MARK: Ground truth

    /// What frame `t` shows, decided from the same per-line quantities that are drawn.
    func truth(_ t: Int) -> PhantomFrameTruth {
        let state = lineState(t)
        let lines = geometry.lines
        // The intercostal window: lines not hidden by a rib shadow.
        let window = (0..<lines).filter { shadowFactor[$0] > 0.5 }
        let n = Double(max(window.count, 1))
        let b1 = state.bLineCenters.contains { center, visibility in
            let l = Int(center.rounded())
            return visibility >= 0.5 && l >= 2 && l < lines - 2 && shadowFactor[l] > 0.5
        }
        let b2Fraction = Double(window.filter { state.b2Cover[$0] >= 0.5 }.count) / n
        let b2 = b2Fraction >= 0.08
        let consolidationFraction = Double(window.filter { state.consolidationDepth[$0] >= 8 }.count) / n
        let consolidation = consolidationFraction >= 0.04
        let aFree = Double(window.filter { state.aLineBrightness[$0] >= 0.5 * Float(spec.aLineGain) }.count) / n
        let aLines = spec.aLineGain >= 0.5 && aFree >= 0.2
        let large = consolidation && (spec.consolidation?.isLarge ?? false) && consolidationFraction >= 0.2
        let severity: Int
        if (b2 && b2Fraction >= 0.5) || large {
            severity = 3
        } else if b2 || consolidation {
            severity = 2
        } else if b1 {
            severity = 1
        } else {
            severity = 0
        }
        return PhantomFrameTruth(aLines: aLines, b1Lines: b1, b2Lines: b2, consolidation: consolidation, severity: severity)
    }
}
