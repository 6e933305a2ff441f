import PleuraCore

/// Frame → model input, as the card's `input` says. Training scripts must do the same (see
/// Scripts/train_model.py `to_model_input`): the whole frame (no crop) is resized to the input size,
/// grey models take BT.601 luma computed in float (0.299 R + 0.587 G + 0.114 B), then
/// `(value · scale - mean) / std` per channel.
enum Preprocess {
    static func tensor(_ image: PixelImage, input: ModelCard.Input) -> [Float] {
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

    /// Area averaging exactly as torch's `adaptive_avg_pool2d`: output cell (oy, ox) is the mean of
    /// input rows floor(oy·H/OH) ..< ceil((oy+1)·H/OH) and the same for columns. Works for up- and
    /// down-scaling.
    static func areaResize(_ src: [Float], width w: Int, height h: Int, outWidth ow: Int, outHeight oh: Int) -> [Float] {
        func ranges(_ o: Int, _ i: Int) -> [Range<Int>] {
            (0..<o).map { k in (k * i / o)..<(((k + 1) * i + o - 1) / o) }
        }
        let ys = ranges(oh, h), xs = ranges(ow, w)
        // Column sums first (per output column range, per input row), then rows: O(W·H) per pass.
        var rowSums = [Float](repeating: 0, count: h * ow)
        for y in 0..<h {
            let base = y * w
            for (ox, r) in xs.enumerated() {
                var s: Float = 0
                for x in r { s += src[base + x] }
                rowSums[y * ow + ox] = s
            }
        }
        var out = [Float](repeating: 0, count: ow * oh)
        for (oy, ry) in ys.enumerated() {
            for (ox, rx) in xs.enumerated() {
                var s: Float = 0
                for y in ry { s += rowSums[y * ow + ox] }
                out[oy * ow + ox] = s / Float(ry.count * rx.count)
            }
        }
        return out
    }
}
