import Foundation

/// Media files made at test time (never committed): small clips from FFmpeg's own test sources,
/// and the bad inputs Pleura must refuse with one clear line.
public enum MediaFixtures {
    /// True when the `ffmpeg` program is there to make clips and act as the oracle.
    public static var ffmpegAvailable: Bool { TestEnv.which("ffmpeg") != nil }
    public static let ffmpegMissing = "skipped: the ffmpeg program is not installed (make test installs it)"

    /// A clip of FFmpeg's `testsrc` pattern. `arguments` are the encoder options, e.g.
    /// `["-c:v", "libx264", "-g", "10", "-bf", "2"]`; the container follows `name`'s extension.
    @discardableResult
    public static func clip(_ name: String, in dir: URL, frames: Int = 50, size: String = "96x64",
                            rate: String = "25", arguments: [String]) throws -> URL {
        let url = dir.appendingPathComponent(name)
        let r = try runProgram(TestEnv.which("ffmpeg")!, ["-nostdin", "-v", "error", "-y", "-f", "lavfi",
                               "-i", "testsrc=size=\(size):rate=\(rate)", "-frames:v", "\(frames)"] + arguments + [url.path])
        guard r.status == 0 else { throw FixtureError("ffmpeg could not make \(name): \(r.stderrText)") }
        return url
    }

    /// The number of frames `ffmpeg -i F -map 0:v:0 -f null -` decodes (its final `frame=` count).
    public static func ffmpegFrameCount(_ file: URL) throws -> Int {
        let r = try runProgram(TestEnv.which("ffmpeg")!, ["-nostdin", "-hide_banner", "-threads", "1", "-i", file.path,
                                                          "-map", "0:v:0", "-f", "null", "-"])
        return try lastFrameCount(r.stderrText)
    }

    /// The last `frame=  N` in ffmpeg's progress output.
    public static func lastFrameCount(_ stderr: String) throws -> Int {
        var count: Int?
        var rest = Substring(stderr)
        while let range = rest.range(of: "frame=") {
            rest = rest[range.upperBound...]
            let digits = rest.drop { $0 == " " }.prefix { $0.isNumber }
            if let n = Int(digits) { count = n }
        }
        guard let count else { throw FixtureError("no frame count in ffmpeg's output: \(stderr.suffix(300))") }
        return count
    }

    /// A valid 1-bit greyscale PNG of `width`×`height` (all black), built by hand: its deflate
    /// stream is runs of 258-byte matches, so a 20000×20000 picture takes ~300 KB on disk while
    /// decoding it would need gigabytes.
    public static func hugePNG(width: Int, height: Int, at url: URL) throws {
        let rowBytes = 1 + (width + 7) / 8            // filter byte + packed bits
        let total = rowBytes * height
        var bits = BitWriter()
        bits.write(0b1, count: 1)                     // BFINAL
        bits.write(0b01, count: 2)                    // fixed Huffman codes
        // One literal 0, then matches of (length, distance 1) repeat it.
        func literalZero() { bits.writeReversed(0b00110000, count: 8) } // literal 0..143: 0x30 + v, 8 bits
        literalZero()
        var remaining = total - 1
        while remaining > 0 {
            if remaining >= 258 + 3 || remaining == 258 {
                bits.writeReversed(0b11000101, count: 8) // symbol 285 = length 258
                bits.writeReversed(0, count: 5)          // distance code 0 = distance 1
                remaining -= 258
            } else {
                literalZero(); remaining -= 1
            }
        }
        bits.writeReversed(0, count: 7)                 // end of block (symbol 256)
        var zlib: [UInt8] = [0x78, 0x01] + bits.bytes
        // Adler-32 of `total` zero bytes: a = 1, b = total (mod 65521).
        let b = UInt32(total % 65521), a: UInt32 = 1
        zlib += withUnsafeBytes(of: ((b << 16) | a).bigEndian, Array.init)

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ data: [UInt8]) {
            png += withUnsafeBytes(of: UInt32(data.count).bigEndian, Array.init)
            let body = Array(type.utf8) + data
            png += body
            png += withUnsafeBytes(of: crc32(body).bigEndian, Array.init)
        }
        var ihdr: [UInt8] = []
        ihdr += withUnsafeBytes(of: UInt32(width).bigEndian, Array.init)
        ihdr += withUnsafeBytes(of: UInt32(height).bigEndian, Array.init)
        ihdr += [1, 0, 0, 0, 0]                       // bit depth 1, greyscale, deflate, filter 0, no interlace
        chunk("IHDR", ihdr)
        chunk("IDAT", zlib)
        chunk("IEND", [])
        try Data(png).write(to: url)
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    /// Deflate's bit order: fields least-significant bit first, Huffman codes most-significant first.
    struct BitWriter {
        var bytes: [UInt8] = []
        var bitCount = 0
        mutating func write(_ value: UInt32, count: Int) {
            for i in 0..<count { push((value >> UInt32(i)) & 1 == 1) }
        }
        mutating func writeReversed(_ code: UInt32, count: Int) {
            for i in stride(from: count - 1, through: 0, by: -1) { push((code >> UInt32(i)) & 1 == 1) }
        }
        private mutating func push(_ bit: Bool) {
            if bitCount % 8 == 0 { bytes.append(0) }
            if bit { bytes[bytes.count - 1] |= UInt8(1 << (bitCount % 8)) }
            bitCount += 1
        }
    }

    /// Every bad input of issue #2, made in `dir`: name → file (the unreadable one is chmod 000).
    public static func badInputs(in dir: URL) throws -> [String: URL] {
        let fm = FileManager.default
        var out: [String: URL] = [:]
        let empty = dir.appendingPathComponent("empty.mp4")
        _ = fm.createFile(atPath: empty.path, contents: Data())
        out["empty"] = empty

        // An MP4 as ffmpeg writes it by default (index at the end), cut at half its size.
        let whole = try clip("whole.mp4", in: dir, arguments: ["-c:v", "libx264", "-g", "10"])
        let bytes = try Data(contentsOf: whole)
        let truncated = dir.appendingPathComponent("truncated.mp4")
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        out["truncated"] = truncated

        var generator = SystemRandomNumberGenerator()
        let random = dir.appendingPathComponent("random.mp4")
        try Data((0..<20_000).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: random)
        out["random"] = random

        let text = dir.appendingPathComponent("notes.txt")
        try Data("Patient 12: B-lines in zone R2.\nSecond line.\n".utf8).write(to: text)
        out["text"] = text

        let folder = dir.appendingPathComponent("folder.mp4")
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        out["directory"] = folder

        let locked = dir.appendingPathComponent("locked.mp4")
        try fm.copyItem(at: whole, to: locked)
        chmod(locked.path, 0)
        out["unreadable"] = locked

        let huge = dir.appendingPathComponent("huge.png")
        try hugePNG(width: 20000, height: 20000, at: huge)
        out["huge"] = huge
        return out
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
