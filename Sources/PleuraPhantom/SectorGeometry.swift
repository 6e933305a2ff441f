#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PleuraCore

/// The convex probe's picture: a fan of `lines` beam lines spread over ±`halfAngle` from an apex
/// above the image, each sampled at `depthSamples` points from the probe face (the curved top) to
/// the deepest point (the curved bottom).
///
/// The phantom draws in this beam space, (depth sample, line), the way a scanner acquires, and
/// then scan-converts to pixels. That alone gives the look of a convex probe: everything that
/// follows a beam (B-lines, rib shadows) fans out with depth, everything at one depth (pleura,
/// A-lines) is an arc, and the speckle grain widens with depth.
struct SectorGeometry: Sendable {
    let width: Int
    let height: Int
    let apexX: Double
    let apexY: Double
    /// Radius of the probe face (top arc) and of the deepest arc, in pixels.
    let innerRadius: Double
    let outerRadius: Double
    let halfAngle: Double
    /// Beam-space size: depth samples (one per pixel of radius) and beam lines.
    let depthSamples: Int
    let lines: Int

    /// Scan conversion table: for each pixel, the beam-space sample at its top-left
    /// interpolation corner (or -1 outside the fan) and the fractional offsets.
    private let sampleIndex: [Int32]
    private let depthFraction: [Float]
    private let lineFraction: [Float]

    /// The standard picture size, as plain constants: reading the size must not build the
    /// geometry's per-pixel tables (the `phantom` command's help text reads it at every start).
    static let standardWidth = 480
    static let standardHeight = 384

    /// The phantom's geometry: 480×384 pixels, a 62° fan, 350 px deep, pleura at about a fifth of
    /// the depth (as with a curvilinear probe set to 12 cm and the pleura at 2–2.5 cm).
    static let standard = SectorGeometry(width: standardWidth, height: standardHeight, apexX: 240, apexY: -88,
                                         innerRadius: 110, outerRadius: 460,
                                         halfAngle: 31 * Double.pi / 180, lines: 320)

    init(width: Int, height: Int, apexX: Double, apexY: Double, innerRadius: Double, outerRadius: Double,
         halfAngle: Double, lines: Int) {
        self.width = width
        self.height = height
        self.apexX = apexX
        self.apexY = apexY
        self.innerRadius = innerRadius
        self.outerRadius = outerRadius
        self.halfAngle = halfAngle
        self.lines = lines
        let samples = Int(outerRadius - innerRadius)
        self.depthSamples = samples
        var index = [Int32](repeating: -1, count: width * height)
        var fz = [Float](repeating: 0, count: width * height)
        var fl = [Float](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                let dx = Double(x) + 0.5 - apexX
                let dy = Double(y) + 0.5 - apexY
                let r = (dx * dx + dy * dy).squareRoot()
                let angle = atan2(dx, dy)
                let z = r - innerRadius
                let l = (angle + halfAngle) / (2 * halfAngle) * Double(lines - 1)
                guard z >= 0, z <= Double(samples - 1), l >= 0, l <= Double(lines - 1) else { continue }
                let zi = min(Int(z), samples - 2)
                let li = min(Int(l), lines - 2)
                let p = y * width + x
                index[p] = Int32(zi * lines + li)
                fz[p] = Float(z - Double(zi))
                fl[p] = Float(l - Double(li))
            }
        }
        sampleIndex = index
        depthFraction = fz
        lineFraction = fl
    }

    /// Distance on screen between neighbouring beam lines at a depth sample, in pixels.
    func linePitch(depth: Double) -> Double {
        (innerRadius + depth) * 2 * halfAngle / Double(lines - 1)
    }

    /// Whether pixel (x, y) lies inside the fan.
    func isInside(x: Int, y: Int) -> Bool { sampleIndex[y * width + x] >= 0 }

    /// The pixel (rounded) where beam-space point (depth sample, line) appears.
    func pixel(depth: Double, line: Double) -> (x: Int, y: Int) {
        let angle = line / Double(lines - 1) * 2 * halfAngle - halfAngle
        let r = innerRadius + depth
        return (Int((apexX + r * sin(angle)).rounded(.down)), Int((apexY + r * cos(angle)).rounded(.down)))
    }

    /// Scan conversion: bilinear interpolation of a beam-space image (grey levels 0–255, row-major
    /// `depthSamples` × `lines`) into a grey picture, black outside the fan.
    func scanConvert(_ beam: [Float]) -> PixelImage {
        precondition(beam.count == depthSamples * lines)
        var out = [UInt8](repeating: 0, count: width * height)
        let stride = lines
        beam.withUnsafeBufferPointer { b in
            sampleIndex.withUnsafeBufferPointer { idx in
                depthFraction.withUnsafeBufferPointer { fz in
                    lineFraction.withUnsafeBufferPointer { fl in
                        out.withUnsafeMutableBufferPointer { o in
                            for p in 0..<o.count {
                                let i = Int(idx[p])
                                if i < 0 { continue }
                                let a = fz[p], c = fl[p]
                                let top = b[i] + (b[i + 1] - b[i]) * c
                                let bottom = b[i + stride] + (b[i + stride + 1] - b[i + stride]) * c
                                let v = top + (bottom - top) * a
                                o[p] = UInt8(min(max(v + 0.5, 0), 255))
                            }
                        }
                    }
                }
            }
        }
        return PixelImage(width: width, height: height, format: .gray8, pixels: out)
    }
}
