import PleuraCore

/// The clinical picture a phantom clip shows. Clips cycle through these in this order, so any 4
/// consecutive clips from the first cover all four findings and all four severities.
enum PhantomScenario: Int, CaseIterable, Sendable {
    /// A-lines; one or two B-lines come into view with each breath (severity 0 ↔ 1).
    case bLinesWithBreathing
    /// A few B-lines and a confluent white area that opens with each breath (1 ↔ 2).
    case confluentBLines
    /// A small subpleural consolidation with B-lines beside it (2).
    case smallConsolidation
    /// Dense, widely extended white lung under an irregular pleura (3).
    case whiteLung
    /// Normal aerated lung: sliding pleura and A-lines only (0).
    case normal
    /// A large, liver-like consolidation with air bronchograms (3).
    case largeConsolidation
    /// B-pattern: three or more separate B-lines, A-lines faint between them (1).
    case bPattern
    /// A small consolidation next to a confluent white area (2).
    case consolidationAndConfluent

    /// One line for the video-level note in labels.csv.
    var summary: String {
        switch self {
        case .bLinesWithBreathing: return "phantom: A-lines; B-lines come and go with breathing"
        case .confluentBLines: return "phantom: B-lines and a confluent white area opening with each breath"
        case .smallConsolidation: return "phantom: small subpleural consolidation with B-lines"
        case .whiteLung: return "phantom: dense white lung under an irregular pleura"
        case .normal: return "phantom: normal lung sliding with A-lines"
        case .largeConsolidation: return "phantom: large consolidation with air bronchograms"
        case .bPattern: return "phantom: B-pattern, several separate B-lines"
        case .consolidationAndConfluent: return "phantom: small consolidation beside confluent B-lines"
        }
    }
}

/// The ground truth of one phantom frame, decided from the same quantities the renderer draws.
struct PhantomFrameTruth: Equatable, Sendable {
    var aLines: Bool
    var b1Lines: Bool
    var b2Lines: Bool
    var consolidation: Bool
    /// ICLUS 0–3: 0 A-lines only, 1 separate B-lines, 2 confluent B-lines or a small
    /// consolidation, 3 widely extended white lung or a large consolidation.
    var severity: Int

    var labels: LabelSet {
        LabelSet(findings: [.aLines: aLines, .b1Lines: b1Lines, .b2Lines: b2Lines, .consolidation: consolidation],
                 severity: Severity(rawValue: severity), quality: .ok)
    }
}

/// One B-line, anchored to the lung surface (so it slides with the lung).
struct BLineSpec: Sendable {
    /// Lateral position in lung coordinates (beam lines at rest).
    var position: Double
    /// Half-width of the streak, in beam lines.
    var halfWidth: Double
    /// Brightness relative to the pleural line's neighbourhood.
    var strength: Double
    /// Visible while `sin(breath phase + phase) > threshold`; threshold ≤ −1 means always.
    var phase: Double
    var threshold: Double
}

/// A confluent white area (B2), anchored to the lung surface.
struct ConfluentSpec: Sendable {
    var center: Double
    /// Half-width at rest; it breathes by ±`breathing` of itself.
    var halfWidth: Double
    var breathing: Double
    var phase: Double
    var threshold: Double
}

/// A subpleural consolidation, anchored to the lung surface.
struct ConsolidationSpec: Sendable {
    var center: Double
    var halfWidth: Double
    /// Greatest thickness below the pleura, in depth samples (≈ 29 per cm).
    var depth: Double
    /// Thick enough to score 3 (ICLUS: larger consolidations).
    var isLarge: Bool
    /// Air bronchograms: bright specks inside, (depth below pleura, lung position, radius).
    var bronchograms: [(depth: Double, position: Double, radius: Double)]
}

/// A rib in the chest wall: a bright arc with a dark acoustic shadow below it.
struct RibSpec: Sendable {
    var center: Double
    var halfWidth: Double
    /// Depth of the rib's top surface.
    var depth: Double
}

/// Everything random about one clip, drawn once from its seed.
struct PhantomClipSpec: Sendable {
    var scenario: PhantomScenario
    var frameCount: Int
    /// Breathing period in frames and the phase at frame 0.
    var breathPeriod: Double
    var breathPhase: Double
    /// Lung sliding: lateral excursion of the lung surface, in beam lines.
    var slideAmplitude: Double
    /// Pleural depth at the middle line and its tilt across the fan, in depth samples.
    var pleuraDepth: Double
    var pleuraTilt: Double
    /// How ragged the pleural line is (0 smooth, ~3 broken) and how much of it is missing.
    var pleuraIrregularity: Double
    var pleuraGaps: Double
    /// A-line brightness, 1 in normal lung, lower where interstitial disease effaces them.
    var aLineGain: Double
    var ribs: [RibSpec]
    var bLines: [BLineSpec]
    var confluent: ConfluentSpec?
    var consolidation: ConsolidationSpec?
    /// Overall gain of the chest wall (different patients, different settings).
    var tissueGain: Double

    init(scenario: PhantomScenario, geometry: SectorGeometry, rng: inout PhantomRandom) {
        let lines = Double(geometry.lines)
        self.scenario = scenario
        breathPeriod = rng.uniform(50, 90)
        // At least one whole breath, so findings that come with breathing both come and go.
        frameCount = min(120, Int(breathPeriod.rounded(.up)) + rng.int(5...30))
        breathPhase = rng.uniform(0, 2 * Double.pi)
        slideAmplitude = rng.uniform(5, 9)
        pleuraDepth = rng.uniform(64, 80)
        pleuraTilt = rng.uniform(-8, 8)
        tissueGain = rng.uniform(0.85, 1.15)

        // Ribs: the "bat sign" (two ribs) or one rib at a side.
        let twoRibs = rng.bool(0.6)
        let ribHalf = rng.uniform(0.08, 0.1) * lines
        if twoRibs {
            ribs = [RibSpec(center: rng.uniform(0.08, 0.12) * lines, halfWidth: ribHalf, depth: pleuraDepth - rng.uniform(10, 16)),
                    RibSpec(center: rng.uniform(0.88, 0.92) * lines, halfWidth: ribHalf, depth: pleuraDepth - rng.uniform(10, 16))]
        } else {
            let left = rng.bool()
            ribs = [RibSpec(center: (left ? rng.uniform(0.08, 0.12) : rng.uniform(0.88, 0.92)) * lines,
                            halfWidth: ribHalf * 1.1, depth: pleuraDepth - rng.uniform(10, 16))]
        }
        // The intercostal window, where the lung shows.
        let windowLow = 0.25 * lines, windowHigh = 0.75 * lines

        func bLine(always: Bool, at position: Double? = nil) -> BLineSpec {
            BLineSpec(position: position ?? rng.uniform(windowLow, windowHigh),
                      halfWidth: rng.uniform(4, 6), strength: rng.uniform(0.8, 1.1),
                      phase: rng.uniform(0, 2 * Double.pi),
                      threshold: always ? -2 : rng.uniform(-0.2, 0.4))
        }
        func spread(_ n: Int, from a: Double, to b: Double) -> [Double] {
            (0..<n).map { i in a + (b - a) * (Double(i) + 0.5) / Double(n) + rng.uniform(-0.25, 0.25) * (b - a) / Double(n) }
        }

        pleuraIrregularity = 0
        pleuraGaps = 0
        aLineGain = 1
        bLines = []
        confluent = nil
        consolidation = nil
        switch scenario {
        case .normal:
            break
        case .bLinesWithBreathing:
            pleuraIrregularity = 0.8
            bLines = (0..<rng.int(1...2)).map { _ in bLine(always: false) }
        case .bPattern:
            pleuraIrregularity = 1.2
            aLineGain = 0.35
            bLines = spread(rng.int(3...5), from: windowLow, to: windowHigh).map { bLine(always: true, at: $0) }
            bLines.append(bLine(always: false))
        case .confluentBLines:
            pleuraIrregularity = 1.5
            pleuraGaps = 0.1
            aLineGain = 0.6
            let center = rng.uniform(0.4, 0.6) * lines
            confluent = ConfluentSpec(center: center, halfWidth: rng.uniform(0.07, 0.1) * lines,
                                      breathing: 0.25, phase: rng.uniform(0, 2 * Double.pi), threshold: rng.uniform(-0.3, 0.3))
            let side = center < 0.5 * lines ? (center + 0.2 * lines) : (center - 0.2 * lines)
            bLines = [bLine(always: true, at: side), bLine(always: false)]
        case .whiteLung:
            pleuraIrregularity = 2.5
            pleuraGaps = 0.25
            aLineGain = 0.25
            confluent = ConfluentSpec(center: rng.uniform(0.45, 0.55) * lines, halfWidth: rng.uniform(0.3, 0.36) * lines,
                                      breathing: 0.1, phase: rng.uniform(0, 2 * Double.pi), threshold: -2)
        case .smallConsolidation, .consolidationAndConfluent:
            pleuraIrregularity = 2
            pleuraGaps = 0.15
            aLineGain = 0.8
            let center = rng.uniform(0.35, 0.65) * lines
            let half = rng.uniform(0.12, 0.16) * lines
            consolidation = ConsolidationSpec(center: center, halfWidth: half, depth: rng.uniform(50, 70), isLarge: false,
                                              bronchograms: [])
            let side = center < 0.5 * lines ? (center + 0.22 * lines) : (center - 0.22 * lines)
            if scenario == .smallConsolidation {
                bLines = [bLine(always: true, at: side), bLine(always: false)]
            } else {
                aLineGain = 0.5
                confluent = ConfluentSpec(center: side, halfWidth: rng.uniform(0.08, 0.11) * lines,
                                          breathing: 0.25, phase: rng.uniform(0, 2 * Double.pi), threshold: rng.uniform(-0.3, 0.2))
            }
        case .largeConsolidation:
            pleuraIrregularity = 2.5
            pleuraGaps = 0.2
            aLineGain = 0.7
            let center = rng.uniform(0.42, 0.58) * lines
            let half = rng.uniform(0.24, 0.3) * lines
            let depth = rng.uniform(140, 190)
            var specks: [(depth: Double, position: Double, radius: Double)] = []
            // Air bronchograms branch like a tree: a few specks along two or three short paths.
            for _ in 0..<rng.int(3...4) {
                var d = rng.uniform(0.2, 0.4) * depth
                var p = center + rng.uniform(-0.5, 0.5) * half
                let dp = rng.uniform(-1.5, 1.5)
                for _ in 0..<rng.int(4...7) {
                    specks.append((d, p, rng.uniform(1.0, 1.8)))
                    d += rng.uniform(3, 5)
                    p += dp + rng.uniform(-1, 1)
                }
            }
            consolidation = ConsolidationSpec(center: center, halfWidth: half, depth: depth, isLarge: true, bronchograms: specks)
        }
    }

    /// Breath phase (radians) at frame `t`.
    func phase(_ t: Int) -> Double { 2 * Double.pi * Double(t) / breathPeriod + breathPhase }

    /// Lateral displacement of the lung surface at frame `t`, in beam lines: lung point `u` shows
    /// at line `u - slide(t)`.
    func slide(_ t: Int) -> Double { slideAmplitude * sin(phase(t)) }

    /// 0…1: how visible a breathing-gated finding is at frame `t` (steep, so few frames are
    /// in between).
    static func gate(_ phase: Double, offset: Double, threshold: Double) -> Double {
        if threshold <= -1 { return 1 }
        let x = (sin(phase + offset) - threshold) / 0.12 + 0.5
        let c = min(max(x, 0), 1)
        return c * c * (3 - 2 * c)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
