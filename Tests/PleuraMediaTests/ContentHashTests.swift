import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraMedia

/// PleuraMedia hashes files with libavutil's SHA-256 (fast C, used on every open and probe);
/// the store uses PleuraCore's pure-Swift ``SHA256``. Both must give the same identity.
@Test func contentHashAgreesWithCoreSHA256() throws {
    let dir = try TestEnv.makeTempDirectory("pleura-hash")
    defer { try? FileManager.default.removeItem(at: dir) }
    for size in [0, 1, 55, 56, 64, 1 << 20, (1 << 20) + 3, 3_000_001] {
        let url = dir.appendingPathComponent("f\(size)")
        try Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }).write(to: url)
        #expect(try ContentHash.sha256(ofFile: url.path) == (try SHA256.hexOfFile(atPath: url.path)), "size \(size)")
    }
    #expect(ContentHash.sha256(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
}
