import Foundation
import Testing
import PleuraCore
import PleuraTestSupport

@Test func sha256KnownAnswers() {
    // FIPS 180-4 examples and the empty string.
    #expect(SHA256.hex(of: [UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(SHA256.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(SHA256.hex(of: [UInt8](repeating: 0x61, count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
}

@Test func sha256StreamingMatchesOneShotAndFile() throws {
    let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
    var h = SHA256()
    for chunk in stride(from: 0, to: data.count, by: 333) { h.update(Array(data[chunk..<min(chunk + 333, data.count)])) }
    #expect(h.hexDigest() == SHA256.hex(of: data))
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
    try Data(data).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    #expect(try SHA256.hexOfFile(atPath: url.path) == SHA256.hex(of: data))
}

/// Files of sizes around SHA-256's 64-byte block and the 1 MiB read chunk hash as coreutils'
/// `sha256sum` says (an independent implementation): media identity in the store depends on it.
@Test(.enabled(if: TestEnv.which("sha256sum") != nil, "skipped: sha256sum is not installed"))
func fileHashesAgreeWithSha256sum() throws {
    let dir = try TestEnv.makeTempDirectory("pleura-hash")
    defer { try? FileManager.default.removeItem(at: dir) }
    for size in [0, 1, 55, 56, 64, 1 << 20, (1 << 20) + 3, 3_000_001] {
        let url = dir.appendingPathComponent("f\(size)")
        try Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }).write(to: url)
        let expected = try runProgram(TestEnv.which("sha256sum")!, [url.path]).stdoutText.prefix(64)
        #expect(try SHA256.hexOfFile(atPath: url.path) == String(expected), "size \(size)")
    }
}
