/// Strips bytes that a terminal would interpret, so names, comments and metadata taken from files
/// can be shown safely.
///
/// Every string that came from outside Pleura (a file name, a note, a container's metadata, an
/// error message from a C library) goes through ``sanitize(_:)`` before it reaches the terminal.
public enum SafeText {
    /// Replaces C0 controls (except none: tab and newline too, since one item is one line),
    /// DEL, C1 controls (U+0080–U+009F, which some terminals treat as CSI/OSC/DCS) and
    /// bidirectional overrides with a visible `?`.
    public static func sanitize(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isUnsafe(scalar) { out.append("?") } else { out.append(scalar) }
        }
        return String(out)
    }

    /// Sanitises bytes that may not be valid UTF-8 (e.g. a file name from the file system).
    public static func sanitize(bytes: some Sequence<UInt8>) -> String {
        sanitize(String(decoding: Array(bytes), as: UTF8.self))
    }

    /// True for scalars that must never reach a terminal raw.
    public static func isUnsafe(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x20 || v == 0x7F { return true }           // C0 controls and DEL (incl. ESC, CR, LF, TAB)
        if (0x80...0x9F).contains(v) { return true }         // C1 controls
        if (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) { return true } // bidi overrides
        return false
    }
}
