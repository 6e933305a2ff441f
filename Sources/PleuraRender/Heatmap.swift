import PleuraCore

/// A 2-D field of explanation strengths (a Grad-CAM map), row-major, values meant to lie in [0, 1]
/// (the compositor clamps; NaN counts as 0).
///
/// ```swift
/// let map = try Heatmap(numpy: NumpyArray.read(path: "cam.npy"), file: "cam.npy")
/// ```
public struct Heatmap: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// `width * height` values, rows top to bottom.
    public var values: [Float]

    public init(width: Int, height: Int, values: [Float]) {
        precondition(width >= 0 && height >= 0 && values.count == width * height, "heatmap size mismatch")
        self.width = width
        self.height = height
        self.values = values
    }

    /// A heatmap from a 2-D `.npy` array (float32, or uint8 scaled by 1/255), or a 3-D one whose
    /// first or last axis has length 1 (`(1, H, W)` / `(H, W, 1)`, as models often save them).
    /// `file` names the source in the error when the shape is wrong.
    public init(numpy: NumpyArray, file: String? = nil) throws {
        var dims = numpy.shape
        if dims.count == 3, dims[0] == 1 { dims.removeFirst() } else if dims.count == 3, dims[2] == 1 { dims.removeLast() }
        guard dims.count == 2, dims[0] > 0, dims[1] > 0 else {
            throw PleuraError(file: file, "a heatmap must be a 2-D array (height × width); this one has shape \(numpy.shape)")
        }
        let values: [Float]
        switch numpy.storage {
        case .float32(let v): values = v
        case .uint8(let v): values = v.map { Float($0) / 255 }
        }
        self.init(width: dims[1], height: dims[0], values: values)
    }

    /// Bilinear resampling to a new size (sample centres aligned, as image resizers do).
    public func resized(width newWidth: Int, height newHeight: Int) -> Heatmap {
        if newWidth == width && newHeight == height { return self }
        guard width > 0, height > 0, newWidth > 0, newHeight > 0 else {
            return Heatmap(width: max(0, newWidth), height: max(0, newHeight),
                           values: [Float](repeating: 0, count: max(0, newWidth) * max(0, newHeight)))
        }
        func taps(_ n: Int, _ m: Int) -> [(Int, Int, Float)] {
            let scale = Float(n) / Float(m)
            return (0..<m).map { o in
                let c = max(0, min(Float(n - 1), (Float(o) + 0.5) * scale - 0.5))
                let i0 = Int(c), i1 = min(i0 + 1, n - 1)
                return (i0, i1, c - Float(i0))
            }
        }
        let xs = taps(width, newWidth), ys = taps(height, newHeight)
        var out = [Float](repeating: 0, count: newWidth * newHeight)
        values.withUnsafeBufferPointer { src in
            for (oy, (y0, y1, fy)) in ys.enumerated() {
                let r0 = y0 * width, r1 = y1 * width
                for (ox, (x0, x1, fx)) in xs.enumerated() {
                    let top = src[r0 + x0] * (1 - fx) + src[r0 + x1] * fx
                    let bottom = src[r1 + x0] * (1 - fx) + src[r1 + x1] * fx
                    out[oy * newWidth + ox] = top * (1 - fy) + bottom * fy
                }
            }
        }
        return Heatmap(width: newWidth, height: newHeight, values: out)
    }
}
