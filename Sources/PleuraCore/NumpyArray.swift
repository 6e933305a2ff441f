import Foundation

/// A NumPy `.npy` array of `float32` or `uint8` values, 1 to 3 dimensions, C order, little endian:
/// the exchange format for heatmaps (`pleura heatmap -o MAP.npy`, `pleura render --heatmap MAP.npy`)
/// and model inputs (`--dump-input IN.npy`), readable with `numpy.load` as is.
///
/// Only the subset Pleura writes is read back: format versions 1.0–3.0, `dtype` `<f4` / `|u1`
/// (also `<u1`, `u1`, `f4` spellings), `fortran_order: False`, shapes of 1–3 dimensions.
/// Anything else is a ``PleuraError`` naming what is wrong.
///
/// ```swift
/// let map = try NumpyArray.read(path: "cam.npy")           // shape [224, 224], float32
/// let cam = map.floatValues                                 // row-major
/// try NumpyArray(shape: [2, 3], floats: [0, 0.5, 1, 1, 0.5, 0]).write(path: "small.npy")
/// ```
public struct NumpyArray: Equatable, Sendable {
    /// The element types Pleura exchanges.
    public enum DType: String, Sendable {
        case float32 = "<f4"
        case uint8 = "|u1"
        public var byteSize: Int { self == .float32 ? 4 : 1 }
    }

    /// The values, stored in one of two arrays depending on ``dtype``.
    public enum Storage: Equatable, Sendable {
        case float32([Float])
        case uint8([UInt8])
    }

    public let shape: [Int]
    public let storage: Storage

    public var dtype: DType {
        if case .float32 = storage { return .float32 }
        return .uint8
    }

    /// Number of elements (the product of ``shape``).
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
        let shape = image.format == .gray8 ? [image.height, image.width] : [image.height, image.width, 3]
        self.init(shape: shape, bytes: image.pixels)
    }

    /// The values as floats (uint8 values are converted as they are, 0–255).
    public var floatValues: [Float] {
        switch storage {
        case .float32(let v): return v
        case .uint8(let v): return v.map(Float.init)
        }
    }

    /// A `uint8` array of shape `[H, W]` or `[H, W, 3]` as an image; nil for other shapes or float data.
    public var image: PixelImage? {
        guard case .uint8(let bytes) = storage else { return nil }
        if shape.count == 2 { return PixelImage(width: shape[1], height: shape[0], format: .gray8, pixels: bytes) }
        if shape.count == 3, shape[2] == 3 {
            return PixelImage(width: shape[1], height: shape[0], format: .rgb24, pixels: bytes)
        }
        if shape.count == 3, shape[2] == 1 {
            return PixelImage(width: shape[1], height: shape[0], format: .gray8, pixels: bytes)
        }
        return nil
    }

    // MARK: Reading

    /// Reads a `.npy` file; errors name the file and what is wrong with it.
    public static func read(path: String) throws -> NumpyArray {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PleuraError(file: path, "cannot read the file (does it exist and is it readable?)")
        }
        do {
            return try parse([UInt8](data))
        } catch let error as PleuraError {
            throw PleuraError(file: path, error.reason)
        }
    }

    /// Parses the bytes of a `.npy` file.
    public static func parse(_ bytes: [UInt8]) throws -> NumpyArray {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw PleuraError(file: nil, "not a NumPy .npy file (the magic bytes \\x93NUMPY are missing)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw PleuraError(file: nil, "truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw PleuraError(file: nil, "unsupported .npy format version \(major) (1, 2 and 3 are read)")
        }
        guard headerLength >= 0, headerStart + headerLength <= bytes.count else {
            throw PleuraError(file: nil, "truncated .npy header")
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        let descr = try headerValue(header, key: "descr")
        let fortran = try headerValue(header, key: "fortran_order")
        let shapeText = try headerValue(header, key: "shape")

        let dtype: DType
        switch descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")) {
        case "<f4", "f4", "float32": dtype = .float32
        case "|u1", "<u1", "u1", "uint8", "|b1": dtype = .uint8
        case let other:
            throw PleuraError(file: nil, "unsupported .npy dtype \(other) (float32 '<f4' and uint8 '|u1' are read)")
        }
        guard fortran.hasPrefix("False") else {
            throw PleuraError(file: nil, "Fortran-order .npy arrays are not read (save with numpy.ascontiguousarray)")
        }
        let inner = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard let n = Int(t), n >= 0 else { throw PleuraError(file: nil, "malformed .npy shape (\(shapeText))") }
            shape.append(n)
        }
        guard (1...3).contains(shape.count) else {
            throw PleuraError(file: nil, "a .npy array of \(shape.count) dimensions; 1 to 3 are read")
        }
        let (count, overflow) = shape.reduce((1, false)) { acc, n in
            let (p, o) = acc.0.multipliedReportingOverflow(by: n)
            return (p, acc.1 || o)
        }
        let dataStart = headerStart + headerLength
        guard !overflow, count <= (bytes.count - dataStart) / dtype.byteSize else {
            throw PleuraError(file: nil, "the .npy data is shorter than its shape \(shape) says (truncated file?)")
        }
        switch dtype {
        case .uint8:
            return NumpyArray(shape: shape, bytes: Array(bytes[dataStart..<(dataStart + count)]))
        case .float32:
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { dst in
                bytes.withUnsafeBytes { src in
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[dataStart..<(dataStart + count * 4)]))
                }
            }
            // Files are little endian; so is every machine Pleura runs on, but be exact anyway.
            if UInt32(1).littleEndian != 1 {
                values = values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
            }
            return NumpyArray(shape: shape, floats: values)
        }
    }

    /// The text after `'key':` in the header dictionary, up to the next top-level comma.
    private static func headerValue(_ header: String, key: String) throws -> String {
        guard let range = header.range(of: "'\(key)':") ?? header.range(of: "\"\(key)\":") else {
            throw PleuraError(file: nil, "the .npy header has no '\(key)' entry")
        }
        var depth = 0
        var out = ""
        for ch in header[range.upperBound...] {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1; if depth < 0 { break } }
            if (ch == "," && depth == 0) || ch == "}" { break }
            out.append(ch)
        }
        return out.trimmingCharacters(in: .whitespaces)
    }

    // MARK: Writing

    /// The bytes of a version 1.0 `.npy` file (header padded to a multiple of 64 bytes, as NumPy does).
    public func serialized() -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        let n = header.utf8.count
        out += [UInt8(n & 0xFF), UInt8(n >> 8)]
        out += Array(header.utf8)
        switch storage {
        case .uint8(let v): out += v
        case .float32(let v):
            out.reserveCapacity(out.count + v.count * 4)
            for f in v {
                let b = f.bitPattern.littleEndian
                out += [UInt8(b & 0xFF), UInt8((b >> 8) & 0xFF), UInt8((b >> 16) & 0xFF), UInt8(b >> 24)]
            }
        }
        return out
    }

    /// Writes the array as a `.npy` file (atomically: a reader never sees half a file).
    public func write(path: String) throws {
        do {
            try Data(serialized()).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw PleuraError(file: path, "cannot write the file: \(error.localizedDescription)")
        }
    }
}
