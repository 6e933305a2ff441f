import Crypto
import Foundation

/// SHA-256 (FIPS 180-4), for content hashes of media files and heatmaps and the store's HMAC
/// pseudonyms. Streaming: feed bytes with ``update(_:)``, then read ``hexDigest()``.
///
/// BoringSSL's, through swift-crypto (in the build already for PostgreSQL's TLS): it uses the
/// CPU's SHA extensions. Opening any media file hashes all of it (media are identified by
/// content), and the pure-Swift version Pleura carried before hashed 114 MB/s here, 64 % of
/// decoding an uncompressed DICOM clip (`pleura bench --suite dicom`).
///
/// ```swift
/// var h = SHA256()
/// h.update(Array("abc".utf8))
/// h.hexDigest()   // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// SHA256.hex(of: bytes)   // one-shot
/// ```
public struct SHA256: Sendable {
    private var hasher = Crypto.SHA256()

    public init() {}

    public static func hex(of bytes: some Collection<UInt8>) -> String {
        var h = SHA256()
        h.update(Array(bytes))
        return h.hexDigest()
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { update($0) }
    }

    public mutating func update(_ bytes: UnsafeBufferPointer<UInt8>) {
        hasher.update(bufferPointer: UnsafeRawBufferPointer(bytes))
    }

    /// The 32-byte digest of everything fed so far (the hash can still be fed after).
    public func digest() -> [UInt8] {
        Array(hasher.finalize())
    }

    /// The digest as 64 lower-case hex digits.
    public func hexDigest() -> String {
        let digits: [Character] = Array("0123456789abcdef")
        var s = ""
        s.reserveCapacity(64)
        for b in digest() { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
        return s
    }
}

extension SHA256 {
    /// SHA-256 of a file's bytes, read in 1 MiB chunks (media files can be large).
    public static func hexOfFile(atPath path: String) throws -> String {
        guard let fp = FileName.withCString(path, { fopen($0, "rb") }) else {
            throw PleuraError(file: path, "cannot read: \(String(cString: strerror(errno)))")
        }
        defer { fclose(fp) }
        var h = SHA256()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, fp) }
            if n > 0 { chunk.withUnsafeBufferPointer { h.update(UnsafeBufferPointer(rebasing: $0[0..<n])) } }
            if n < chunk.count {
                if ferror(fp) != 0 { throw PleuraError(file: path, "read error: \(String(cString: strerror(errno)))") }
                break
            }
        }
        return h.hexDigest()
    }
}
