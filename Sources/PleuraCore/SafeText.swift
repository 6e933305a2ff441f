/// The one path by which text from outside Pleura reaches a terminal.
///
/// Every string that came from outside Pleura (a file name, a note, a container's metadata, an
/// error message from a C library) is printed through one of these:
/// - ``sanitize(_:)`` for text output: each unsafe scalar becomes a visible `?`;
/// - ``jsonQuoted(_:)`` / ``terminalSafeJSON(_:)`` for JSON output: each unsafe scalar becomes a
///   `\uXXXX` escape, so the JSON still decodes to the exact original text;
/// - ``sanitize(bytes:)`` for names that may not be valid UTF-8 (POSIX file names are bytes).
///
/// Unsafe (``isUnsafe(_:)``): C0 controls (ESC, BEL, CR, LF, TAB, …), DEL, C1 controls
/// (U+0080–U+009F: U+009B is a one-byte CSI, U+009D an OSC, U+0090 a DCS on terminals that
/// honour 8-bit controls) and the bidirectional overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069) that reorder what follows them on screen.
public enum SafeText {
    /// Replaces every unsafe scalar (``isUnsafe(_:)``) with a visible `?`.
    public static func sanitize(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isUnsafe($0) || FileName.isRawByte($0) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if FileName.isRawByte(scalar) { out.append("\u{FFFD}") }   // a byte of a non-UTF-8 file name
            else if isUnsafe(scalar) { out.append("?") } else { out.append(scalar) }
        }
        return String(out)
    }

    /// Sanitises bytes that may not be valid UTF-8 (e.g. a file name from the file system): each
    /// invalid sequence shows as U+FFFD (visible, never a control), then ``sanitize(_:)``.
    public static func sanitize(bytes: some Sequence<UInt8>) -> String {
        sanitize(String(decoding: Array(bytes), as: UTF8.self))
    }

    /// True for scalars that must never reach a terminal raw.
    public static func isUnsafe(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x20 || v == 0x7F { return true }           // C0 controls and DEL (incl. ESC, CR, LF, TAB)
        if (0x80...0x9F).contains(v) { return true }         // C1 controls
        if (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) { return true } // bidi overrides, isolates
        return false
    }

    /// A JSON string literal (with its quotes) that is safe on a terminal: `"` and `\` escaped,
    /// `\n` `\r` `\t` as such, every other unsafe scalar as `\u00XX` / `\u202E`. Decoding it gives
    /// back exactly `text`.
    public static func jsonQuoted(_ text: String) -> String {
        var out = ""
        appendJSONQuoted(text, to: &out)
        return out
    }

    /// Appends ``jsonQuoted(_:)`` of `text` to `out` (for writers that build large outputs).
    public static func appendJSONQuoted(_ text: String, to out: inout String) {
        out += "\""
        for u in text.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where isUnsafe(u): appendUnicodeEscape(u, to: &out)
            case _ where FileName.isRawByte(u): out += "\\ufffd"   // a byte of a non-UTF-8 file name
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }

    /// Makes JSON text written by any encoder (Foundation's `JSONEncoder` escapes C0 controls but
    /// writes C1 controls and bidi overrides raw) safe on a terminal: every unsafe scalar except
    /// the whitespace JSON allows between tokens becomes a `\uXXXX` escape. Valid JSON can hold such
    /// scalars only inside strings, where the escape means the same text. A raw byte of a
    /// non-UTF-8 file name (``FileName``) has no JSON spelling and is written as `\ufffd`.
    public static func terminalSafeJSON(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: { (isUnsafe($0) && !isJSONWhitespace($0)) || FileName.isRawByte($0) }) else { return json }
        var out = ""
        out.reserveCapacity(json.utf8.count + 16)
        for u in json.unicodeScalars {
            if FileName.isRawByte(u) { out += "\\ufffd" }
            else if isUnsafe(u) && !isJSONWhitespace(u) { appendUnicodeEscape(u, to: &out) } else { out.unicodeScalars.append(u) }
        }
        return out
    }

    private static func isJSONWhitespace(_ u: Unicode.Scalar) -> Bool {
        u == "\n" || u == "\r" || u == "\t"
    }

    private static func appendUnicodeEscape(_ u: Unicode.Scalar, to out: inout String) {
        let hex = String(u.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
