import PleuraCore

/// Frame → model input, as the card's `input` says. Training scripts must do the same (see
/// Scripts/train_model.py `to_model_input`, Scripts/pleura_sector.py): grey models take BT.601 luma
/// computed in float (0.299 R + 0.587 G + 0.114 B). Whole-frame models: the frame is resized to the
/// input size, then `(value · scale - mean) / std` per channel. Sector models (`crop = "sector"`,
/// grey): luma set to 0 outside the sector, the sector's square (``ScanSector/cropX`` …) area-resized
/// to the input size together with the 0/1 mask, model mask = resized mask ≥ 0.5, then
/// `(v - mean) / max(std, 1)` with mean and std (float64) over the model-mask pixels, 0 outside.
enum Preprocess {
    static func tensor(_ image: PixelImage, input: ModelCard.Input, sector: ScanSector? = nil) -> [Float] {
        if input.cropsToSector {
            let s = sector.flatMap { $0.width == image.width && $0.height == image.height ? $0 : nil }
                ?? ScanSector.detect(frames: [image])
            return sectorTensor(image, input: input, sector: s)
        }
        let w = image.width, h = image.height, ow = input.width, oh = input.height
        // Source planes in float, one per model channel.
        var planes: [[Float]] = []
        let px = image.pixels
        if input.channels == 1 {
            var g = [Float](repeating: 0, count: w * h)
            if image.format == .gray8 {
                for i in 0..<(w * h) { g[i] = Float(px[i]) }
            } else {
                for i in 0..<(w * h) {
                    g[i] = Float(px[3 * i]) * 0.299 + Float(px[3 * i + 1]) * 0.587 + Float(px[3 * i + 2]) * 0.114
                }
            }
            planes = [g]
        } else {
            for c in 0..<3 {
                var p = [Float](repeating: 0, count: w * h)
                if image.format == .gray8 { for i in 0..<(w * h) { p[i] = Float(px[i]) } }
                else { for i in 0..<(w * h) { p[i] = Float(px[3 * i + c]) } }
                planes.append(p)
            }
        }
        let scale = Float(input.scale ?? 1.0 / 255.0)
        var out = [Float](repeating: 0, count: input.channels * ow * oh)
        for (c, plane) in planes.enumerated() {
            let resized = (input.resize ?? "area") == "bilinear"
                ? CAMMath.resizeBilinear(plane.map(Double.init), width: w, height: h, outWidth: ow, outHeight: oh).map(Float.init)
                : areaResize(plane, width: w, height: h, outWidth: ow, outHeight: oh)
            let mean = Float(input.mean[c]), std = Float(input.std[c])
            for i in 0..<(ow * oh) { out[c * ow * oh + i] = (resized[i] * scale - mean) / std }
        }
        return out
    }

    static func luma(_ image: PixelImage) -> [Float] {
        let n = image.width * image.height, px = image.pixels
        var g = [Float](repeating: 0, count: n)
        if image.format == .gray8 {
            for i in 0..<n { g[i] = Float(px[i]) }
        } else {
            for i in 0..<n { g[i] = Float(px[3 * i]) * 0.299 + Float(px[3 * i + 1]) * 0.587 + Float(px[3 * i + 2]) * 0.114 }
        }
        return g
    }

    /// The sector crop: 1 channel, `input.width × input.height` (grey models only; colour models
    /// take the sector's grey in every channel).
    static func sectorTensor(_ image: PixelImage, input: ModelCard.Input, sector: ScanSector) -> [Float] {
        let w = image.width, h = image.height, side = sector.cropSide, ow = input.width, oh = input.height
        let grey = luma(image)
        var plane = [Float](repeating: 0, count: side * side)
        var mplane = [Float](repeating: 0, count: side * side)
        let x0 = max(0, sector.cropX), y0 = max(0, sector.cropY)
        let x1 = min(w, sector.cropX + side), y1 = min(h, sector.cropY + side)
        if x0 < x1 && y0 < y1 {
            for y in y0..<y1 {
                let src = y * w, dst = (y - sector.cropY) * side - sector.cropX
                for x in x0..<x1 where sector.mask[src + x] != 0 {
                    plane[dst + x] = grey[src + x]
                    mplane[dst + x] = 1
                }
            }
        }
        let v = areaResize(plane, width: side, height: side, outWidth: ow, outHeight: oh)
        let m = areaResize(mplane, width: side, height: side, outWidth: ow, outHeight: oh).map { $0 >= 0.5 }
        var sum = 0.0, count = 0
        for i in 0..<(ow * oh) where m[i] { sum += Double(v[i]); count += 1 }
        var one = [Float](repeating: 0, count: ow * oh)
        if count > 0 {
            let mean = sum / Double(count)
            var ss = 0.0
            for i in 0..<(ow * oh) where m[i] { let d = Double(v[i]) - mean; ss += d * d }
            let std = max((ss / Double(count)).squareRoot(), 1.0)
            for i in 0..<(ow * oh) where m[i] { one[i] = Float((Double(v[i]) - mean) / std) }
        }
        guard input.channels == 3 else { return one }
        return one + one + one
    }

    /// Area averaging exactly as torch's `adaptive_avg_pool2d` (CPU, float): output cell (oy, ox) is
    /// the sum, in row-major order in Float, of input rows floor(oy·H/OH) ..< ceil((oy+1)·H/OH) and
    /// the same for columns, divided by the row count and then by the column count, so the values
    /// are torch's to the bit. Works for up- and down-scaling.
    static func areaResize(_ src: [Float], width w: Int, height h: Int, outWidth ow: Int, outHeight oh: Int) -> [Float] {
        func ranges(_ o: Int, _ i: Int) -> [Range<Int>] {
            (0..<o).map { k in (k * i / o)..<(((k + 1) * i + o - 1) / o) }
        }
        let ys = ranges(oh, h), xs = ranges(ow, w)
        var out = [Float](repeating: 0, count: ow * oh)
        src.withUnsafeBufferPointer { p in
            for (oy, ry) in ys.enumerated() {
                for (ox, rx) in xs.enumerated() {
                    var s: Float = 0
                    for y in ry {
                        let base = y * w
                        for x in rx { s += p[base + x] }
                    }
                    out[oy * ow + ox] = s / Float(ry.count) / Float(rx.count)
                }
            }
        }
        return out
    }
}
