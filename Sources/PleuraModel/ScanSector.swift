import PleuraCore

/// The pixels of a clip the probe imaged (the fan of a convex probe, the rectangle of a linear one),
/// found from the clip itself: its per-pixel maximum and temporal variance over a few evenly spaced
/// frames. Burnt-in text, markers, calipers and depth scales do not move, so they have no temporal
/// variance; the black surround has no brightness. Models whose card says `input.crop = "sector"`
/// see only this region (``Preprocess``).
///
/// The algorithm is Scripts/pleura_sector.py's, step for step and in integers, so that training and
/// Pleura agree bit for bit:
/// 1. luma `Y = (299 R + 587 G + 114 B + 500) / 1000` per pixel and sample frame;
/// 2. square cells of `c = max(2, min(W, H) / 48)` pixels; a cell is *bright* when the mean of its
///    pixels' maximum over time exceeds 12, *moving* when also its mean per-pixel temporal variance
///    exceeds 4 (grey levels²), *alive* when bright with a variance above 0.25 (static tissue under
///    codec noise; overlays are bit-exact from frame to frame);
/// 3. the 4-connected groups of moving cells of at least 5 % of the largest (a dark band such as an
///    effusion may split the sector), grown through alive cells; a still image (one frame): the
///    largest group of bright cells, no growth;
/// 4. the mask: pixels whose centre lies inside or on the convex hull of those cells' centres.
/// With no moving cell the whole frame is the sector.
public struct ScanSector: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Row-major, `width * height`, 1 inside the sector.
    public let mask: [UInt8]
    /// The square the model input is cut from: top-left corner (may be negative: outside the frame
    /// counts as outside the sector) and side, centred on the mask's bounding box.
    public let cropX: Int
    public let cropY: Int
    public let cropSide: Int

    /// Frames sampled to find the sector (the same as training samples).
    public static let maxSamples = 16
    static let brightThreshold: Int64 = 12
    static let varianceThreshold: Int64 = 4
    static let cellDivisor = 48

    /// Display indices of the frames to sample from a clip of `frameCount` frames: up to 16, evenly
    /// spaced (frame `floor((i + 0.5) · n / 16)`), as Scripts/train_model.py's `frame_indices`.
    public static func sampleIndices(frameCount n: Int) -> [Int] {
        guard n > maxSamples else { return Array(0..<max(0, n)) }
        return Array(Set((0..<maxSamples).map { Int((Double($0) + 0.5) * Double(n) / Double(maxSamples)) })).sorted()
    }

    /// The sector of a clip, as training and `pleura infer` find it: from the clip's sample frames
    /// (``sampleIndices(frameCount:)``, all the same size), once per clip. `frame` reads a frame
    /// by display index. The one rule every caller uses, so a frame gets the same model input in
    /// the labelling screen as in `pleura infer`.
    public static func ofClip(frameCount: Int, frame: (Int) throws -> PixelImage) rethrows -> ScanSector {
        try detect(frames: sampleIndices(frameCount: frameCount).map(frame))
    }

    /// The whole frame (models without a sector crop; clips where nothing was found).
    public static func whole(width: Int, height: Int) -> ScanSector {
        ScanSector(width: width, height: height, mask: [UInt8](repeating: 1, count: width * height))
    }

    public init(width: Int, height: Int, mask: [UInt8]) {
        precondition(mask.count == width * height)
        self.width = width
        self.height = height
        self.mask = mask
        var x0 = width, x1 = -1, y0 = height, y1 = -1
        for y in 0..<height {
            let row = y * width
            for x in 0..<width where mask[row + x] != 0 {
                if x < x0 { x0 = x }
                if x > x1 { x1 = x }
                if y < y0 { y0 = y }
                y1 = y
            }
        }
        if x1 < 0 { x0 = 0; x1 = width - 1; y0 = 0; y1 = height - 1 }
        let w = x1 + 1 - x0, h = y1 + 1 - y0
        let side = max(w, h)
        cropSide = side
        cropX = x0 - floorDiv(side - w, 2)
        cropY = y0 - floorDiv(side - h, 2)
    }

    /// This sector cut to the rectangle x0...x1 × y0...y1 (inclusive; a DICOM file's ultrasound
    /// region): pixels outside it are never sector. When nothing of the sector lies inside, the
    /// rectangle itself is the sector (the file's word beats a detection that missed).
    public func restricted(x0: Int, y0: Int, x1: Int, y1: Int) -> ScanSector {
        let bx0 = max(0, x0), by0 = max(0, y0), bx1 = min(width - 1, x1), by1 = min(height - 1, y1)
        guard bx0 <= bx1, by0 <= by1 else { return self }
        var cut = [UInt8](repeating: 0, count: width * height)
        var any = false
        for y in by0...by1 {
            for x in bx0...bx1 where mask[y * width + x] != 0 { cut[y * width + x] = 1; any = true }
        }
        if !any { for y in by0...by1 { for x in bx0...bx1 { cut[y * width + x] = 1 } } }
        return ScanSector(width: width, height: height, mask: cut)
    }

    /// Pixels inside the sector.
    public var pixelCount: Int { mask.reduce(0) { $0 + Int($1) } }

    /// Finds the sector from a clip's sample frames (all the same size; gray8 or rgb24).
    public static func detect(frames: [PixelImage]) -> ScanSector {
        guard let first = frames.first else { return whole(width: 0, height: 0) }
        let w = first.width, h = first.height, n = w * h
        let k = Int64(frames.count)
        var mx = [Int64](repeating: 0, count: n)
        var s1 = [Int64](repeating: 0, count: n)
        var s2 = [Int64](repeating: 0, count: n)
        for f in frames {
            precondition(f.width == w && f.height == h, "sample frames differ in size")
            let px = f.pixels
            for i in 0..<n {
                let y: Int64
                if f.format == .gray8 { y = Int64(px[i]) } else {
                    y = (299 * Int64(px[3 * i]) + 587 * Int64(px[3 * i + 1]) + 114 * Int64(px[3 * i + 2]) + 500) / 1000
                }
                if y > mx[i] { mx[i] = y }
                s1[i] += y
                s2[i] += y * y
            }
        }
        let c = max(2, min(w, h) / cellDivisor)
        let gw = (w + c - 1) / c, gh = (h + c - 1) / c
        var cellMax = [Int64](repeating: 0, count: gw * gh)
        var cellVar = [Int64](repeating: 0, count: gw * gh)
        var cellN = [Int64](repeating: 0, count: gw * gh)
        for y in 0..<h {
            let gy = y / c
            for x in 0..<w {
                let i = y * w + x, g = gy * gw + x / c
                cellMax[g] += mx[i]
                cellVar[g] += k * s2[i] - s1[i] * s1[i]
                cellN[g] += 1
            }
        }
        var moving = [Bool](repeating: false, count: gw * gh)
        var alive = [Bool](repeating: false, count: gw * gh)
        for g in 0..<(gw * gh) {
            let bright = cellMax[g] > brightThreshold * cellN[g]
            if k >= 2 {
                moving[g] = bright && cellVar[g] > varianceThreshold * k * k * cellN[g]
                alive[g] = bright && 4 * cellVar[g] > k * k * cellN[g]
            } else {
                moving[g] = bright
            }
        }
        let components = Self.components(moving, gw: gw, gh: gh)
        guard let largest = components.map(\.count).max() else { return whole(width: w, height: h) }
        // Every moving part of a fair size (a dark band such as an effusion can split the sector)…
        let region: [Int] = k >= 2 ? components.filter { 20 * $0.count >= largest }.flatMap { $0 }
            : components.first { $0.count == largest }!
        // …grown through bright cells that are not perfectly still (static chest wall, not burnt-in text).
        var inside = [Bool](repeating: false, count: gw * gh)
        for g in region { inside[g] = true }
        var stack = region
        while let g = stack.popLast() {
            let gi = g / gw, gj = g % gw
            for (di, dj) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                let a = gi + di, b = gj + dj
                guard a >= 0, a < gh, b >= 0, b < gw else { continue }
                let q = a * gw + b
                if alive[q] && !inside[q] { inside[q] = true; stack.append(q) }
            }
        }
        let best = (0..<(gw * gh)).filter { inside[$0] }
        // Cell centres in doubled pixel coordinates (edge cells by their real extent).
        var points: [Point] = best.map { g in
            let i = g / gw, j = g % gw
            let x0 = j * c, x1 = min(w, (j + 1) * c), y0 = i * c, y1 = min(h, (i + 1) * c)
            return Point(x: x0 + x1, y: y0 + y1)
        }
        points = Array(Set(points)).sorted()
        let hull = convexHull(points)
        return ScanSector(width: w, height: h, mask: fill(hull, width: w, height: h))
    }

    /// 4-connected components of the active cells, in raster order of their first cell.
    static func components(_ active: [Bool], gw: Int, gh: Int) -> [[Int]] {
        var label = [Bool](repeating: false, count: gw * gh)
        var out: [[Int]] = []
        for start in 0..<(gw * gh) where active[start] && !label[start] {
            var members: [Int] = []
            var stack = [start]
            label[start] = true
            while let g = stack.popLast() {
                members.append(g)
                let gi = g / gw, gj = g % gw
                for (di, dj) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                    let a = gi + di, b = gj + dj
                    guard a >= 0, a < gh, b >= 0, b < gw else { continue }
                    let q = a * gw + b
                    if active[q] && !label[q] { label[q] = true; stack.append(q) }
                }
            }
            out.append(members)
        }
        return out
    }

    struct Point: Hashable, Comparable {
        var x: Int
        var y: Int
        static func < (a: Point, b: Point) -> Bool { a.x != b.x ? a.x < b.x : a.y < b.y }
    }

    /// Andrew's monotone chain over sorted, distinct points; collinear points dropped.
    static func convexHull(_ pts: [Point]) -> [Point] {
        guard pts.count > 2 else { return pts }
        func cross(_ o: Point, _ a: Point, _ b: Point) -> Int { (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x) }
        var lower: [Point] = []
        for p in pts {
            while lower.count >= 2 && cross(lower[lower.count - 2], lower[lower.count - 1], p) <= 0 { lower.removeLast() }
            lower.append(p)
        }
        var upper: [Point] = []
        for p in pts.reversed() {
            while upper.count >= 2 && cross(upper[upper.count - 2], upper[upper.count - 1], p) <= 0 { upper.removeLast() }
            upper.append(p)
        }
        return Array(lower.dropLast()) + Array(upper.dropLast())
    }

    /// Pixels whose doubled centre (2x+1, 2y+1) is inside or on the hull. For a polygon each row's
    /// inside pixels form one interval: every edge's half-plane test `C - dy·px ≥ 0` bounds px from
    /// one side, solved in integers, so the result is the per-pixel test's exactly.
    static func fill(_ hull: [Point], width w: Int, height h: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: w * h)
        guard hull.count >= 3 else {
            for y in 0..<h {
                for x in 0..<w where onShortHull(hull, px: 2 * x + 1, py: 2 * y + 1) { out[y * w + x] = 1 }
            }
            return out
        }
        for y in 0..<h {
            let py = 2 * y + 1
            var lo = 1, hi = 2 * w - 1          // px range of the row's centres
            for t in 0..<hull.count {
                let a = hull[t], b = hull[(t + 1) % hull.count]
                let dy = b.y - a.y
                let c = (b.x - a.x) * (py - a.y) + dy * a.x
                if dy == 0 {
                    if c < 0 { lo = 1; hi = 0; break }
                } else if dy > 0 {
                    hi = min(hi, floorDiv(c, dy))      // px ≤ c / dy
                } else {
                    lo = max(lo, ceilDiv(c, dy))       // px ≥ c / dy (dy < 0)
                }
            }
            guard lo <= hi else { continue }
            // Odd px = 2x + 1 within [lo, hi].
            let x0 = max(0, ceilDiv(lo - 1, 2)), x1 = min(w - 1, floorDiv(hi - 1, 2))
            if x0 <= x1 { for x in x0...x1 { out[y * w + x] = 1 } }
        }
        return out
    }

    private static func onShortHull(_ hull: [Point], px: Int, py: Int) -> Bool {
        switch hull.count {
        case 1: return px == hull[0].x && py == hull[0].y
        case 2:
            let a = hull[0], b = hull[1]
            return (b.x - a.x) * (py - a.y) - (b.y - a.y) * (px - a.x) == 0
                && px >= min(a.x, b.x) && px <= max(a.x, b.x) && py >= min(a.y, b.y) && py <= max(a.y, b.y)
        default: return false
        }
    }
}

/// Floor and ceiling of a / b for any signs (b ≠ 0).
private func floorDiv(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

private func ceilDiv(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) == (b < 0)) ? q + 1 : q
}
