/// HMAC-SHA256 (RFC 2104) over PleuraCore's ``SHA256``: the keyed hash the store's pseudonyms of
/// patient and study identifiers are made with (a per-store secret as the key), so that the same
/// identifier groups together inside one store and cannot be looked up without the secret.
///
/// ```swift
/// HMACSHA256.hex(key: secret, message: Array("1.2.840.113619".utf8))   // 64 hex digits
/// ```
public enum HMACSHA256 {
    static let blockSize = 64

    /// The 32-byte MAC of `message` under `key` (keys longer than a block are hashed first).
    public static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var k = key
        if k.count > blockSize {
            var h = SHA256()
            h.update(k)
            k = h.digest()
        }
        k += [UInt8](repeating: 0, count: blockSize - k.count)
        var inner = SHA256()
        inner.update(k.map { $0 ^ 0x36 })
        inner.update(message)
        var outer = SHA256()
        outer.update(k.map { $0 ^ 0x5C })
        outer.update(inner.digest())
        return outer.digest()
    }

    /// ``mac(key:message:)`` as lower-case hex.
    public static func hex(key: [UInt8], message: [UInt8]) -> String {
        mac(key: key, message: message).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
        }.joined()
    }
}
