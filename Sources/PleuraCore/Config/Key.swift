/// One key press as keymaps name it and the terminal reports it.
///
/// Keymap files spell keys as text: a single printable character stands for itself (`"l"`,
/// `"L"`, `":"`, `"?"`), control keys are `"Ctrl-r"` (case-insensitive letter, since a terminal
/// cannot tell Ctrl-r from Ctrl-R), and keys without a character have names (`"Right"`, `"Space"`,
/// `"PageDown"`, `"F1"` …, see ``Key/Named``).
///
/// ```swift
/// let key = try Key(parsing: "Ctrl-r")   // .control("r")
/// key.description                        // "Ctrl-r"
/// ```
public enum Key: Hashable, Sendable, CustomStringConvertible {
    /// A printable character (not space; see ``Named/space``).
    case character(Character)
    /// Ctrl plus a lower-case ASCII letter.
    case control(Character)
    /// A key without a printable character.
    case named(Named)

    /// Keys that have names instead of characters. The raw value is the spelling in keymap files.
    public enum Named: String, CaseIterable, Sendable {
        case left = "Left", right = "Right", up = "Up", down = "Down"
        case home = "Home", end = "End", pageUp = "PageUp", pageDown = "PageDown"
        case insert = "Insert", delete = "Delete", backspace = "Backspace"
        case enter = "Enter", tab = "Tab", escape = "Escape", space = "Space"
        case f1 = "F1", f2 = "F2", f3 = "F3", f4 = "F4", f5 = "F5", f6 = "F6"
        case f7 = "F7", f8 = "F8", f9 = "F9", f10 = "F10", f11 = "F11", f12 = "F12"

        /// The compact form the status line uses (arrows as symbols).
        public var shortLabel: String {
            switch self {
            case .left: return "←"
            case .right: return "→"
            case .up: return "↑"
            case .down: return "↓"
            case .pageUp: return "PgUp"
            case .pageDown: return "PgDn"
            case .space: return "space"
            case .escape: return "Esc"
            default: return rawValue
            }
        }
    }

    /// Parses a key as written in a keymap file. Throws a reason (without file or line; the
    /// keymap parser adds those) when the text names no key.
    public init(parsing text: String) throws(KeyParseError) {
        if text == " " { self = .named(.space); return }
        if text.count == 1, let ch = text.first {
            guard ch.unicodeScalars.allSatisfy({ !SafeText.isUnsafe($0) }) else {
                throw KeyParseError(reason: "key '\(SafeText.sanitize(text))' is a control character; write it as Ctrl-x")
            }
            self = .character(ch)
            return
        }
        if let named = Named.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) {
            self = .named(named)
            return
        }
        let lower = text.lowercased()
        for prefix in ["ctrl-", "ctrl+", "c-", "^"] where lower.hasPrefix(prefix) {
            let rest = lower.dropFirst(prefix.count)
            if rest.count == 1, let ch = rest.first, ch.isASCII, ch.isLetter {
                self = .control(ch)
                return
            }
        }
        throw KeyParseError(reason: "unknown key '\(SafeText.sanitize(text))' (use one character such as \"l\" or \":\", Ctrl-x, or one of "
                            + Named.allCases.map(\.rawValue).joined(separator: ", ") + ")")
    }

    /// The canonical spelling, as a keymap file would write it.
    public var description: String {
        switch self {
        case .character(let c): return String(c)
        case .control(let c): return "Ctrl-" + String(c)
        case .named(let n): return n.rawValue
        }
    }

    /// The compact form for the status line and help (`→`, `space`, `^r`).
    public var shortLabel: String {
        switch self {
        case .character(let c): return String(c)
        case .control(let c): return "^" + String(c)
        case .named(let n): return n.shortLabel
        }
    }
}

/// Why a key name could not be parsed.
public struct KeyParseError: Error, Sendable {
    public var reason: String
}
