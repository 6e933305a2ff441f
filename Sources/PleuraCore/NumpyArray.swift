import Foundation

// NOTE: the graphics engineer owns this file (issue: render); this is the model branch's stand-in with
// the same public API (init(shape:floats:), init(shape:bytes:), init(image:), read/parse, write/
// serialized, floatValues, image), written because `pleura heatmap` needed it before it landed on
// main. On merge, keep the render branch's version.

/// A NumPy `.npy` array of `float32` or `uint8` values, C order, little endian: the exchange format
/// for heatmaps (`pleura heatmap -o MAP.npy`) and model inputs (`--dump-input IN.npy`).
///
/// ```swift
/// try NumpyArray(shape: [2, 3], floats: [0, 0.5, 1, 1, 0.5, 0]).write(path: "small.npy")
/// let map = try NumpyArray.read(path: "small.npy").floatValues
/// ```
public struct NumpyArray: Equatable, Sendable {
    public enum DType: String, Sendable {
        case float32 = "<f4"
        case uint8 = "|u1"
    }

    public enum Storage: Equatable, Sendable {
        case float32([Float])
        case uint8([UInt8])
    }

    public let shape: [Int]
    public let storage: Storage

    public var dtype: DType { if case .float32 = storage { return .float32 }; return .uint8 }
    public var count: Int { shape.reduce(1, *) }

    public init(shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "shape does not match the value count")
        self.shape = shape
        self.storage = .float32(floats)
    }

    public init(shape: [Int], bytes: [UInt8]) {
        precondition(shape.reduce(1, *) == bytes.count, "shape does not match the value count")
        self.shape = shape
        self.storage = .uint8(bytes)
    }

    /// An image as `uint8` of shape `[height, width]` (grey) or `[height, width, 3]` (RGB).
    public init(image: PixelImage) {
        self.init(shape: image.format == .gray8 ? [image.height, image.width] : [image.height, image.width, 3],
                  bytes: image.pixels)
    }

    public var floatValues: [Float] {
        switch storage {
        case .float32(let v): return v
        case .uint8(let v): return v.map(Float.init)
        }
    }

    /// A `uint8` array of shape `[H, W]`, `[H, W, 1]` or `[H, W, 3]` as an image; nil otherwise.
    public var image: PixelImage? {
        guard case .uint8(let bytes) = storage else { return nil }
        if shape.count == 2 { return PixelImage(width: shape[1], height: shape[0], format: .gray8, pixels: bytes) }
        if shape.count == 3, shape[2] == 3 { return PixelImage(width: shape[1], height: shape[0], format: .rgb24, pixels: bytes) }
        if shape.count == 3, shape[2] == 1 { return PixelImage(width: shape[1], height: shape[0], format: .gray8, pixels: bytes) }
        return nil
    }

    public static func read(path: String) throws -> NumpyArray {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PleuraError(file: path, "cannot read the file")
        }
        do { return try parse([UInt8](data)) } catch let e as PleuraError { throw PleuraError(file: path, e.reason) }
    }

    public static func parse(_ bytes: [UInt8]) throws -> NumpyArray {
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw PleuraError(file: nil, "not a .npy file (no \\x93NUMPY magic)")
        }
        let major = bytes[6]
        let headerLength: Int, start: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; start = 10
        } else if major == 2 || major == 3 {
            guard bytes.count >= 12 else { throw PleuraError(file: nil, ".npy header truncated") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }; start = 12
        } else {
            throw PleuraError(file: nil, ".npy format version \(major) is not supported")
        }
        guard bytes.count >= start + headerLength else { throw PleuraError(file: nil, ".npy header truncated") }
        let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        func value(_ key: String) throws -> String {
            guard let r = header.range(of: "'\(key)':") else { throw PleuraError(file: nil, ".npy header lacks '\(key)'") }
            let rest = header[r.upperBound...].drop { $0 == " " }
            if rest.first == "(" { return String(rest.prefix { $0 != ")" }.dropFirst()) }
            return String(rest.prefix { $0 != "," && $0 != "}" }).trimmingCharacters(in: .whitespaces)
        }
        let descr = try value("descr").trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        guard try value("fortran_order") == "False" else { throw PleuraError(file: nil, ".npy in Fortran order is not supported") }
        let shape = try value("shape").split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let n = shape.reduce(1, *)
        let body = start + headerLength
        switch descr {
        case "<f4", "f4":
            guard bytes.count >= body + 4 * n else { throw PleuraError(file: nil, ".npy data truncated") }
            var v = [Float](repeating: 0, count: n)
            v.withUnsafeMutableBytes { dst in bytes.withUnsafeBytes { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[body..<(body + 4 * n)])) } }
            return NumpyArray(shape: shape, floats: v.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) })
        case "|u1", "<u1", "u1":
            guard bytes.count >= body + n else { throw PleuraError(file: nil, ".npy data truncated") }
            return NumpyArray(shape: shape, bytes: Array(bytes[body..<(body + n)]))
        default:
            throw PleuraError(file: nil, ".npy dtype \(descr) is not supported (float32 or uint8)")
        }
    }

    public func serialized() -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let hl = header.utf8.count
        out += [UInt8(hl & 0xff), UInt8(hl >> 8)]
        out += Array(header.utf8)
        switch storage {
        case .float32(let v):
            for f in v { withUnsafeBytes(of: f.bitPattern.littleEndian) { out += $0 } }
        case .uint8(let v): out += v
        }
        return out
    }

    public func write(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(serialized())) else {
            throw PleuraError(file: path, "cannot write the file (does its folder exist?)")
        }
    }
}
