import Foundation
import PleuraCore

/// Reads the picture size from the first bytes of PNG, GIF and JPEG files, so a 20000×20000 image
/// is refused before FFmpeg allocates anything for it (FFmpeg's own `max_pixels` check is the
/// second line of defence, for every other format).
enum ImageHeader {
    static func check(path: String) throws {
        guard let head = FileName.readPrefix(path, count: 64 * 1024) else { return }
        if let (w, h) = dimensions(of: head) {
            if w * h > MediaLimits.maxPixels { try MediaLimits.checkDimensions(width: w, height: h, file: path) }
        }
    }

    /// (width, height) when `head` starts a PNG, GIF or JPEG whose size is in these bytes.
    static func dimensions(of head: [UInt8]) -> (Int, Int)? {
        func be16(_ i: Int) -> Int { Int(head[i]) << 8 | Int(head[i + 1]) }
        func be32(_ i: Int) -> Int { be16(i) << 16 | be16(i + 2) }
        // PNG: signature, then the IHDR chunk (width, height as big-endian 32-bit).
        if head.count >= 24, head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
           Array(head[12..<16]) == Array("IHDR".utf8) {
            return (be32(16), be32(20))
        }
        // GIF: logical screen size, little-endian 16-bit.
        if head.count >= 10, head.starts(with: Array("GIF8".utf8)) {
            return (Int(head[6]) | Int(head[7]) << 8, Int(head[8]) | Int(head[9]) << 8)
        }
        // JPEG: walk the markers to the first start-of-frame (SOF0…SOF15 except DHT/JPG/DAC).
        if head.count >= 4, head[0] == 0xFF, head[1] == 0xD8 {
            var i = 2
            while i + 9 < head.count {
                guard head[i] == 0xFF else { return nil }
                let marker = head[i + 1]
                if marker == 0xFF { i += 1; continue }
                let length = be16(i + 2)
                if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                    return (be16(i + 7), be16(i + 5))
                }
                i += 2 + length
            }
        }
        return nil
    }
}
