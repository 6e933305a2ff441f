import CFFmpeg
import Foundation
import PleuraCore

/// SHA-256 of a file's bytes: how Pleura identifies media (the store's content hash, the frame
/// index cache key). Uses libavutil's implementation, read in 1 MiB chunks.
public enum ContentHash {
    /// Lower-case hex SHA-256 of the file at `path`. Throws ``PleuraError`` when it cannot be read.
    public static func sha256(ofFile path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw PleuraError(file: path, "cannot read the file (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        guard let sha = av_sha_alloc() else { throw PleuraError(file: path, "out of memory while hashing") }
        defer { av_free(UnsafeMutableRawPointer(sha)) }
        av_sha_init(sha, 256)
        let chunk = 1 << 20
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw PleuraError(file: path, "cannot read the file (\(String(cString: strerror(errno))))")
            }
            if n == 0 { break }
            av_sha_update(sha, buffer, n)
        }
        var digest = [UInt8](repeating: 0, count: 32)
        av_sha_final(sha, &digest)
        return hex(digest)
    }

    /// SHA-256 of bytes in memory (same hex form).
    public static func sha256(of bytes: [UInt8]) -> String {
        guard let sha = av_sha_alloc() else { fatalError("out of memory") }
        defer { av_free(UnsafeMutableRawPointer(sha)) }
        av_sha_init(sha, 256)
        bytes.withUnsafeBufferPointer { av_sha_update(sha, $0.baseAddress, $0.count) }
        var digest = [UInt8](repeating: 0, count: 32)
        av_sha_final(sha, &digest)
        return hex(digest)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](); out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
