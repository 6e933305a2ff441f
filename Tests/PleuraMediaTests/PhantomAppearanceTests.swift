import Foundation
import Testing
import PleuraCore
@testable import PleuraPhantom

/// Measurable properties a clinician's eye relies on to recognise a lung scan, checked on the
/// drawn pictures (before encoding).
@Suite struct PhantomAppearanceTests {
    static let generator = PhantomGenerator(seed: 11)

    static func clip(_ scenario: PhantomScenario) -> PhantomClip {
        generator.makeClip(scenario.rawValue)
    }

    /// Mean grey over beam lines `lines` at depth `depth(line)` (one pixel per line).
    static func mean(_ image: PixelImage, _ clip: PhantomClip, lines: [Int], depth: (Int) -> Double) -> Double {
        var sum = 0.0
        for l in lines {
            let p = clip.geometry.pixel(depth: depth(l), line: Double(l))
            sum += Double(image.pixels[p.y * image.width + p.x])
        }
        return sum / Double(lines.count)
    }

    /// Mean over a band of depths (every sample from `from` to `to` below each line's start).
    static func bandMean(_ image: PixelImage, _ clip: PhantomClip, lines: [Int], from: (Int) -> Double, to: (Int) -> Double) -> Double {
        var sum = 0.0, n = 0.0
        for l in lines {
            var d = from(l)
            while d <= to(l) {
                let p = clip.geometry.pixel(depth: d, line: Double(l))
                sum += Double(image.pixels[p.y * image.width + p.x]); n += 1
                d += 1
            }
        }
        return sum / n
    }

    /// The middle of the intercostal window, clear of the rib shadows' soft edges.
    static func windowLines(_ clip: PhantomClip) -> [Int] {
        let lines = clip.geometry.lines
        return (lines * 3 / 10..<lines * 7 / 10).filter { clip.shadowFactor[$0] == 1 }
    }

    @Test func outsideTheFanIsBlack() {
        let clip = Self.clip(.normal)
        let image = clip.frame(0)
        var insideSum = 0, insideCount = 0
        for y in 0..<image.height {
            for x in 0..<image.width {
                let v = Int(image.pixels[y * image.width + x])
                if clip.geometry.isInside(x: x, y: y) {
                    insideSum += v; insideCount += 1
                } else {
                    #expect(v == 0, "pixel (\(x), \(y)) outside the fan is \(v)")
                    if v != 0 { return }
                }
            }
        }
        #expect(insideCount > image.width * image.height / 3)
        #expect(Double(insideSum) / Double(insideCount) > 20)
        // Convex fan: the probe face (top arc) is narrower than the deepest arc.
        let topRow = (0..<image.width).filter { clip.geometry.isInside(x: $0, y: 30) }.count
        let deepRow = (0..<image.width).filter { clip.geometry.isInside(x: $0, y: 300) }.count
        #expect(deepRow > 3 * topRow)
    }

    @Test func pleuralLineIsBrighterThanAboveAndBelow() {
        let clip = Self.clip(.normal)
        let image = clip.frame(5)
        let state = clip.lineState(5)
        let lines = Self.windowLines(clip)
        let pleura = Self.mean(image, clip, lines: lines) { Double(state.pleura[$0]) }
        let above = Self.bandMean(image, clip, lines: lines, from: { Double(state.pleura[$0]) - 14 }, to: { Double(state.pleura[$0]) - 8 })
        let below = Self.bandMean(image, clip, lines: lines, from: { Double(state.pleura[$0]) + 8 }, to: { Double(state.pleura[$0]) + 14 })
        #expect(pleura > 1.5 * above, "pleura \(pleura), chest wall above \(above)")
        #expect(pleura > 1.5 * below, "pleura \(pleura), lung below \(below)")
        #expect(pleura > 150)
    }

    @Test func aLinesRepeatThePleuralDepthAndFade() {
        let clip = Self.clip(.normal)
        let image = clip.frame(0)
        let state = clip.lineState(0)
        let lines = Self.windowLines(clip)
        func at(_ k: Double) -> Double { Self.mean(image, clip, lines: lines) { k * Double(state.pleuraSmooth[$0]) } }
        let between = [at(1.5), at(2.5), at(3.5)]
        let aLines = [at(2), at(3), at(4)]
        for k in 0..<2 {
            #expect(aLines[k] > 1.5 * between[k], "A-line \(k + 1): \(aLines[k]), above it \(between[k])")
            #expect(aLines[k] > 1.5 * between[k + 1], "A-line \(k + 1): \(aLines[k]), below it \(between[k + 1])")
        }
        #expect(aLines[0] > aLines[1] && aLines[1] > aLines[2], "A-lines do not fade with depth: \(aLines)")
        #expect(clip.truth(0).aLines)
    }

    @Test func bLinesAreBrightBeamWideStreaksToTheBottom() throws {
        let clip = Self.clip(.bPattern)
        let image = clip.frame(0)
        let state = clip.lineState(0)
        let window = Set(Self.windowLines(clip))
        let visible = zip(state.bLineCenters, clip.spec.bLines).filter { c, _ in
            c.visibility > 0.9 && window.contains(Int(c.line.rounded()))
        }
        #expect(visible.count >= 3)
        let deepest = Double(clip.geometry.depthSamples - 12)
        for (center, spec) in visible {
            let l = Int(center.line.rounded())
            let off = Int((2.5 * spec.halfWidth).rounded())
            let zp = Double(state.pleura[l])
            let streak = Self.bandMean(image, clip, lines: [l], from: { _ in zp + 20 }, to: { _ in deepest })
            let beside = min(Self.bandMean(image, clip, lines: [max(l - off, 0)], from: { _ in zp + 20 }, to: { _ in deepest }),
                             Self.bandMean(image, clip, lines: [min(l + off, clip.geometry.lines - 1)], from: { _ in zp + 20 }, to: { _ in deepest }))
            #expect(streak > 1.5 * beside, "B-line at line \(l): \(streak), beside it \(beside)")
            // Laser-like: still bright near the bottom of the fan.
            let bottom = Self.bandMean(image, clip, lines: [l], from: { _ in deepest - 30 }, to: { _ in deepest })
            #expect(bottom > 60, "B-line at line \(l) fades out: \(bottom) near the bottom")
        }
        #expect(clip.truth(0).b1Lines && clip.truth(0).severity == 1)
    }

    @Test func bLinesComeAndGoWithBreathing() throws {
        let clip = Self.clip(.bLinesWithBreathing)
        let frames = 0..<clip.frameCount
        let on = try #require(frames.first { clip.truth($0).b1Lines })
        let off = try #require(frames.first { !clip.truth($0).b1Lines })
        // The same B-line (lung position) in a frame where it shows and one where it does not.
        let spec = try #require(zip(clip.spec.bLines, clip.lineState(on).bLineCenters).first { $0.1.visibility >= 0.5 }?.0)
        func streak(_ t: Int) -> Double {
            let l = Int((spec.position - clip.spec.slide(t)).rounded())
            let zp = Double(clip.lineState(t).pleura[l])
            return Self.bandMean(clip.frame(t), clip, lines: [l], from: { _ in zp + 20 }, to: { _ in zp + 200 })
        }
        #expect(streak(on) > 1.5 * streak(off), "B-line \(streak(on)) when shown, \(streak(off)) when gone")
    }

    @Test func consolidationIsTissueLikeUnderThePleura() throws {
        let clip = Self.clip(.largeConsolidation)
        let image = clip.frame(0)
        let state = clip.lineState(0)
        let spec = try #require(clip.spec.consolidation)
        let center = Int((spec.center - clip.spec.slide(0)).rounded())
        let lines = Array((center - 6)...(center + 6))
        let zp = Double(state.pleura[center])
        let depth = Double(state.consolidationDepth[center])
        #expect(depth > 100)
        // Compare with the same depths in an aerated lung (a normal clip, same seed).
        let normal = Self.clip(.normal)
        let normalImage = normal.frame(0)
        let inside = Self.bandMean(image, clip, lines: lines, from: { _ in zp + 0.6 * depth }, to: { _ in zp + 0.8 * depth })
        let aerated = Self.bandMean(normalImage, normal, lines: lines, from: { _ in zp + 0.6 * depth }, to: { _ in zp + 0.8 * depth })
        let muscle = Self.bandMean(image, clip, lines: lines, from: { _ in zp - 30 }, to: { _ in zp - 22 })
        let pleura = Self.mean(normalImage, normal, lines: Self.windowLines(normal)) { Double(normal.lineState(0).pleura[$0]) }
        #expect(inside > aerated, "consolidation \(inside) vs aerated lung \(aerated) at the same depth")
        #expect(inside > 0.5 * muscle && inside < 2 * muscle, "consolidation \(inside) is not tissue-like (muscle \(muscle))")
        #expect(inside < 0.7 * pleura, "consolidation \(inside) is as bright as the pleura \(pleura)")
        #expect(clip.truth(0).consolidation && clip.truth(0).severity == 3)
    }

    @Test func ribsCastDarkShadows() throws {
        let clip = Self.clip(.normal)
        let image = clip.frame(0)
        let shadowed = (0..<clip.geometry.lines).filter { clip.shadowFactor[$0] < 0.05 }
        try #require(!shadowed.isEmpty)
        let zp = clip.spec.pleuraDepth
        let shadow = Self.bandMean(image, clip, lines: shadowed, from: { _ in zp + 10 }, to: { _ in zp + 150 })
        let window = Self.bandMean(image, clip, lines: Self.windowLines(clip), from: { _ in zp + 10 }, to: { _ in zp + 150 })
        #expect(shadow < 5, "rib shadow \(shadow)")
        #expect(window > 20, "intercostal window \(window)")
    }

    @Test func lungSlidesWhileTheChestWallStaysStill() throws {
        let clip = Self.clip(.normal)
        let lines = clip.geometry.lines
        // Two frames at least three beam lines of sliding apart.
        let t0 = 0
        let t1 = try #require((1..<clip.frameCount).first { abs(clip.spec.slide($0) - clip.spec.slide(t0)) >= 3 })
        let a = clip.beamFrame(t0), b = clip.beamFrame(t1)
        let wallRows = 5..<Int(clip.spec.ribs.map(\.depth).min()! - 8)
        for z in wallRows { #expect(a[z * lines..<(z + 1) * lines] == b[z * lines..<(z + 1) * lines]) }
        // Below the pleura (between the pleura and the first A-line), the texture moves sideways
        // by the slide and keeps its grain (coherent speckle, not noise).
        let zp = Int(clip.spec.pleuraDepth + abs(clip.spec.pleuraTilt))
        let rows = (zp + 10)..<(zp + 40)
        let window = Self.windowLines(clip)
        func correlation(_ shift: Int) -> Double {
            var xs: [Double] = [], ys: [Double] = []
            for z in rows {
                for l in window where window.contains(l + shift) {
                    xs.append(Double(a[z * lines + l + shift])); ys.append(Double(b[z * lines + l]))
                }
            }
            let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
            var sxy = 0.0, sxx = 0.0, syy = 0.0
            for i in xs.indices { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) * (xs[i] - mx); syy += (ys[i] - my) * (ys[i] - my) }
            return sxy / (sxx * syy).squareRoot()
        }
        // Lung point u shows at line u − slide(t): content moves by −Δslide lines.
        let expected = Int((clip.spec.slide(t1) - clip.spec.slide(t0)).rounded())
        let best = (-15...15).max { correlation($0) < correlation($1) }!
        #expect(abs(best - expected) <= 1, "texture moved \(best) lines, the lung slid \(expected)")
        #expect(correlation(best) > 0.5, "texture not coherent: best correlation \(correlation(best))")
        #expect(correlation(best) > correlation(0) + 0.2)
    }
}
