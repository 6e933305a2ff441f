/// An 8-bit image in memory: grey (1 channel) or RGB (3 channels, interleaved), rows top to bottom,
/// no padding. The one pixel type every module exchanges, so no C library's frame type leaks out.
public struct PixelImage: Equatable, Sendable {
    public enum Format: Int, Sendable {
        case gray8 = 1
        case rgb24 = 3
        public var channels: Int { rawValue }
    }

    public let width: Int
    public let height: Int
    public let format: Format
    /// `width * height * format.channels` bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, format: Format, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "negative image size")
        precondition(pixels.count == width * height * format.channels, "pixel buffer size mismatch")
        self.width = width
        self.height = height
        self.format = format
        self.pixels = pixels
    }

    /// A black image of the given size.
    public init(width: Int, height: Int, format: Format) {
        self.init(width: width, height: height, format: format,
                  pixels: [UInt8](repeating: 0, count: width * height * format.channels))
    }

    public var channels: Int { format.channels }
    public var byteCount: Int { pixels.count }

    /// The same picture as RGB (grey values copied to all three channels).
    public func toRGB() -> PixelImage {
        if format == .rgb24 { return self }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            let g = pixels[i]
            out[3 * i] = g; out[3 * i + 1] = g; out[3 * i + 2] = g
        }
        return PixelImage(width: width, height: height, format: .rgb24, pixels: out)
    }

    /// The same picture as grey (ITU-R BT.601 luma, rounded).
    public func toGray() -> PixelImage {
        if format == .gray8 { return self }
        var out = [UInt8](repeating: 0, count: width * height)
        for i in 0..<(width * height) {
            let r = Int(pixels[3 * i]), g = Int(pixels[3 * i + 1]), b = Int(pixels[3 * i + 2])
            out[i] = UInt8((299 * r + 587 * g + 114 * b + 500) / 1000)
        }
        return PixelImage(width: width, height: height, format: .gray8, pixels: out)
    }
}
