import Foundation
import PleuraCore
import PleuraMedia
import PleuraTestSupport
import Testing
@testable import PleuraModel
@testable import PleuraPhantom

/// The scan sector (ScanSector.detect): on phantom clips, whose fan is known exactly
/// (SectorGeometry.standard), and on real POCUS clips (skipped without the data).
@Suite struct ScanSectorTests {
    /// Share of the true region the mask covers, and share of the mask outside it.
    static func agreement(_ s: ScanSector, inside: (Int, Int) -> Bool) -> (coverage: Double, outside: Double) {
        var truth = 0, hit = 0, extra = 0
        for y in 0..<s.height {
            for x in 0..<s.width {
                let t = inside(x, y), m = s.mask[y * s.width + x] != 0
                if t { truth += 1; if m { hit += 1 } } else if m { extra += 1 }
            }
        }
        return (Double(hit) / Double(max(1, truth)), Double(extra) / Double(max(1, s.pixelCount)))
    }

    /// Pixels brighter than 12 in at least one frame.
    static func visible(_ frames: [PixelImage]) -> [Bool] {
        let n = frames[0].width * frames[0].height
        var out = [Bool](repeating: false, count: n)
        for f in frames {
            let p = f.pixels, rgb = f.format == .rgb24
            for i in 0..<n where !out[i] {
                let v = rgb ? (299 * Int(p[3 * i]) + 587 * Int(p[3 * i + 1]) + 114 * Int(p[3 * i + 2]) + 500) / 1000 : Int(p[i])
                if v > 12 { out[i] = true }
            }
        }
        return out
    }

    static func sampleFrames(_ reader: MediaReader) throws -> [PixelImage] {
        try ScanSector.sampleIndices(frameCount: reader.info.frames).map { try reader.frame($0) }
    }

    @Test func sampleIndicesAreTrainingsEvenlySpacedFrames() {
        // Scripts/pleura_sector.py frame_indices: sorted({int((i + 0.5) * n / 16)}).
        #expect(ScanSector.sampleIndices(frameCount: 5) == [0, 1, 2, 3, 4])
        #expect(ScanSector.sampleIndices(frameCount: 16) == Array(0..<16))
        #expect(ScanSector.sampleIndices(frameCount: 100) == [3, 9, 15, 21, 28, 34, 40, 46, 53, 59, 65, 71, 78, 84, 90, 96])
    }

    /// Encoded phantom clips (H.264, so the black surround carries compression noise) with burnt-in
    /// static text added outside the fan: the mask covers the fan and leaves the text and surround out.
    /// "The fan" is SectorGeometry's fan minus the pixels black in every sample frame (the phantom's
    /// rib shadow can blacken a whole wedge at the fan's edge, which no picture-based detector sees);
    /// up to 2.5 % of the mask may lie outside the geometric fan: the convex hull closes the probe
    /// face's concave arc.
    @Test func phantomClipsGiveTheirFan() throws {
        let geometry = SectorGeometry.standard
        let dir = try TestEnv.makeTempDirectory("sector-phantom")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clips = try PhantomGenerator(seed: 11).makeClips(count: 2, into: dir)
        for url in clips {
            let reader = try MediaReader(path: url.path)
            var frames = try Self.sampleFrames(reader)
            // Static "burnt-in" text: a bright block in the top-left corner outside the fan.
            for i in frames.indices {
                var px = frames[i].pixels
                for y in 4..<20 { for x in 4..<70 where (x / 3 + y / 4) % 2 == 0 {
                    let p = (y * frames[i].width + x) * 3
                    px[p] = 250; px[p + 1] = 250; px[p + 2] = 250
                } }
                frames[i] = PixelImage(width: frames[i].width, height: frames[i].height, format: .rgb24, pixels: px)
            }
            let s = ScanSector.detect(frames: frames)
            let visible = Self.visible(frames)
            let a = Self.agreement(s) { geometry.isInside(x: $0, y: $1) && visible[$1 * s.width + $0] }
            let b = Self.agreement(s) { geometry.isInside(x: $0, y: $1) }
            print("phantom \(url.lastPathComponent): visible fan covered \(a.coverage), mask outside the geometric fan \(b.outside)")
            #expect(a.coverage >= 0.97, "mask covers only \(a.coverage) of the visible fan")
            #expect(b.outside <= 0.025, "\(b.outside) of the mask lies outside the fan")
            var text = 0
            for y in 4..<20 { for x in 4..<70 where s.mask[y * s.width + x] != 0 { text += 1 } }
            #expect(text == 0, "the burnt-in text is inside the mask")
            // The crop square is centred on the fan and holds it.
            #expect(s.cropSide >= 300 && s.cropSide <= geometry.width)
        }
    }

    /// One still frame (no temporal variance): the brightness criterion alone still finds the fan.
    @Test func stillPhantomFrameGivesItsFan() throws {
        let clip = PhantomGenerator(seed: 3).makeClip(0)
        let s = ScanSector.detect(frames: [clip.frame(0)])
        let visible = Self.visible([clip.frame(0)])
        let a = Self.agreement(s) { SectorGeometry.standard.isInside(x: $0, y: $1) && visible[$1 * s.width + $0] }
        let b = Self.agreement(s) { SectorGeometry.standard.isInside(x: $0, y: $1) }
        print("still phantom frame: visible fan covered \(a.coverage), mask outside the geometric fan \(b.outside)")
        #expect(a.coverage >= 0.95 && b.outside <= 0.025, "still frame: coverage \(a.coverage), outside \(b.outside)")
    }

    @Test func blankClipIsTheWholeFrame() {
        let black = PixelImage(width: 40, height: 30, format: .gray8, pixels: [UInt8](repeating: 0, count: 1200))
        let s = ScanSector.detect(frames: [black, black])
        #expect(s.pixelCount == 1200 && s.cropX == 0 && s.cropY == -5 && s.cropSide == 40)
    }

    /// Real clips of several sources and scanners: the mask covers the imaged area (pixels whose
    /// speckle moves: temporal standard deviation ≥ 6 grey levels, outside the 2 % border where
    /// UI elements animate) and takes in nothing of the black surround (pixels never brighter than 3
    /// outside the convex hull of everything shown, i.e. not the acoustic shadows inside the fan):
    /// at most 2 % (measured 0–1.1 %: the hull of cell centres overhangs the edge by under a cell).
    @Test(.enabled(if: TestEnv.pocusDirectory != nil, "skipped: POCUS data absent (../shared/data/pocus)"))
    func realClipsCoverTheImagedAreaAndNoSurround() throws {
        let root = try #require(TestEnv.pocusDirectory)
        let clips = ["pocus_videos/convex/Cov_combatting_Image2.mp4", "pocus_videos/convex/Pneu_northumbria_0409_set1_vid1.avi",
                     "pocus_videos/convex/Reg_Avi_Video_001.mp4", "pocus_videos/linear/Cov-Atlas-pleural.mp4",
                     "pocus_videos/convex/Cov-Atlas+(44).gif", "pocus_videos/convex/Cov-Atlas-+(43).gif"]
        var checked = 0
        for name in clips {
            let path = root.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let reader = try MediaReader(path: path)
            let frames = try Self.sampleFrames(reader)
            let s = ScanSector.detect(frames: frames)
            let w = s.width, h = s.height, k = Double(frames.count)
            var moving = 0, movingIn = 0, black = 0
            var maxima = [Double](repeating: 0, count: w * h)
            var shown: [ScanSector.Point] = []
            for i in 0..<(w * h) {
                for f in frames {
                    let p = f.pixels
                    maxima[i] = max(maxima[i], (299 * Double(p[3 * i]) + 587 * Double(p[3 * i + 1]) + 114 * Double(p[3 * i + 2])) / 1000)
                }
                if maxima[i] > 20 { shown.append(ScanSector.Point(x: 2 * (i % w) + 1, y: 2 * (i / w) + 1)) }
            }
            let shownHull = ScanSector.fill(ScanSector.convexHull(shown.sorted()), width: w, height: h)
            for y in (h / 50)..<(h - h / 50) {
                for x in (w / 50)..<(w - w / 50) {
                    let i = y * w + x
                    var s1 = 0.0, s2 = 0.0, mx = 0.0
                    for f in frames {
                        let p = f.pixels
                        let v = (299 * Double(p[3 * i]) + 587 * Double(p[3 * i + 1]) + 114 * Double(p[3 * i + 2])) / 1000
                        s1 += v; s2 += v * v; mx = max(mx, v)
                    }
                    let sd = max(0, s2 / k - (s1 / k) * (s1 / k)).squareRoot()
                    let inMask = s.mask[i] != 0
                    if sd >= 6 && mx > 20 { moving += 1; if inMask { movingIn += 1 } }
                    if inMask && mx <= 3 && shownHull[i] == 0 { black += 1 }
                }
            }
            let coverage = Double(movingIn) / Double(max(1, moving)), surround = Double(black) / Double(max(1, s.pixelCount))
            print("real \(name): \(s.pixelCount) px, moving speckle covered \(coverage), black surround in mask \(surround)")
            #expect(coverage >= 0.95, "\(name): mask covers \(coverage) of the moving speckle")
            #expect(surround <= 0.02, "\(name): \(surround) of the mask is black surround")
            checked += 1
        }
        #expect(checked == clips.count, "a listed clip is missing from the POCUS data")
    }
}
