import Foundation
import TOMLKit

/// Finds where keys and values sit in a TOML file's text, so errors about *values* can name a
/// line. TOMLKit reports lines for syntax errors only; once a document has parsed, its values no
/// longer know where they came from, so this scans the text itself.
///
/// It understands what Pleura's session and keymap files use: `[table]` headers, `key = value`
/// lines (bare, quoted or dotted keys) and arrays that span several lines.
struct TOMLSourceMap {
    /// (full dotted key path, first line, last line) of every key/value pair, in file order.
    private var entries: [(path: String, first: Int, last: Int)] = []
    /// (table path, line) of every `[table]` header.
    private var tables: [(path: String, line: Int)] = []
    private let lines: [String]

    init(text: String) {
        lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        var table = ""
        var open: (path: String, first: Int)? = nil
        var depth = 0
        for (index, raw) in lines.enumerated() {
            let number = index + 1
            let code = Self.stripComment(raw)
            if let current = open {
                depth += Self.bracketBalance(code)
                if depth <= 0 {
                    entries.append((current.path, current.first, number))
                    open = nil
                    depth = 0
                }
                continue
            }
            let trimmed = code.trimmingSpaces
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("[") && !trimmed.hasPrefix("[[") {
                if let close = trimmed.lastIndex(of: "]") {
                    table = Self.normaliseKey(String(trimmed[trimmed.index(after: trimmed.startIndex)..<close]))
                    tables.append((table, number))
                }
                continue
            }
            guard let eq = Self.firstUnquotedEquals(code) else { continue }
            let key = Self.normaliseKey(String(code[code.startIndex..<eq]))
            let path = table.isEmpty ? key : table + "." + key
            let value = code[code.index(after: eq)...]
            let balance = Self.bracketBalance(String(value))
            if balance > 0 {
                open = (path, number)
                depth = balance
            } else {
                entries.append((path, number, number))
            }
        }
        if let current = open { entries.append((current.path, current.first, lines.count)) }
    }

    /// The line (1-based) where `path` (e.g. `"sampling.every"`) is assigned, or nil.
    func line(of path: String) -> Int? {
        entries.first { $0.path == path }?.first
    }

    /// The line of the `[table]` header, or nil.
    func line(ofTable path: String) -> Int? {
        tables.first { $0.path == path }?.line
    }

    /// The line inside `path`'s value where the string `literal` is written (for one element of a
    /// multi-line array); the key's own line when the literal cannot be found.
    func line(ofString literal: String, in path: String, occurrence: Int = 0) -> Int? {
        guard let entry = entries.first(where: { $0.path == path }) else { return nil }
        var seen = 0
        for number in entry.first...entry.last {
            var code = Self.stripComment(lines[number - 1])
            if number == entry.first, let eq = Self.firstUnquotedEquals(code) { code = String(code[code.index(after: eq)...]) }
            for quoted in Self.quotedStrings(code) where quoted == literal {
                if seen == occurrence { return number }
                seen += 1
            }
        }
        return entry.first
    }

    /// Every assigned key path in file order (for finding unknown keys with their lines).
    var keyPaths: [(path: String, line: Int)] { entries.map { ($0.path, $0.first) } }

    // MARK: scanning helpers

    private static func stripComment(_ line: String) -> String {
        var quote: Character? = nil
        var previous: Character = " "
        for (offset, ch) in line.enumerated() {
            if let q = quote {
                if ch == q && !(q == "\"" && previous == "\\") { quote = nil }
            } else if ch == "\"" || ch == "'" {
                quote = ch
            } else if ch == "#" {
                return String(line.prefix(offset))
            }
            previous = ch
        }
        return line
    }

    private static func firstUnquotedEquals(_ line: String) -> String.Index? {
        var quote: Character? = nil
        var index = line.startIndex
        while index < line.endIndex {
            let ch = line[index]
            if let q = quote { if ch == q { quote = nil } }
            else if ch == "\"" || ch == "'" { quote = ch }
            else if ch == "=" { return index }
            index = line.index(after: index)
        }
        return nil
    }

    /// Opening minus closing brackets outside strings.
    private static func bracketBalance(_ text: String) -> Int {
        var quote: Character? = nil
        var balance = 0
        var previous: Character = " "
        for ch in text {
            if let q = quote {
                if ch == q && !(q == "\"" && previous == "\\") { quote = nil }
            } else if ch == "\"" || ch == "'" { quote = ch }
            else if ch == "[" || ch == "{" { balance += 1 }
            else if ch == "]" || ch == "}" { balance -= 1 }
            previous = ch
        }
        return balance
    }

    /// `a . "b c"` → `a.b c`.
    private static func normaliseKey(_ raw: String) -> String {
        raw.split(separator: ".").map { part -> String in
            var p = part.trimmingSpaces
            if p.count >= 2, let f = p.first, (f == "\"" || f == "'"), p.last == f { p = String(p.dropFirst().dropLast()) }
            return p
        }.joined(separator: ".")
    }

    /// The contents of the string literals on a line (basic escapes `\"` and `\\` undone).
    private static func quotedStrings(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        var quote: Character? = nil
        var escaped = false
        for ch in text {
            if let q = quote {
                if q == "\"" && escaped { current.append(ch); escaped = false; continue }
                if q == "\"" && ch == "\\" { escaped = true; continue }
                if ch == q { out.append(current); current = ""; quote = nil } else { current.append(ch) }
            } else if ch == "\"" || ch == "'" {
                quote = ch
            }
        }
        return out
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// Parses TOML text, turning TOMLKit's syntax errors into `FILE:LINE: reason`.
func parseTOML(_ text: String, file: String) throws -> TOMLTable {
    try checkWhatTomlPlusPlusAssertsOn(text, file: file)
    do {
        return try TOMLTable(string: text)
    } catch let error as TOMLParseError {
        throw PleuraError(file: "\(file):\(error.source.begin.line)", "TOML syntax: \(error.description)")
    }
}

/// toml++ (inside TOMLKit 0.6.0) asserts instead of reporting an error on some malformed input,
/// and the assertion is compiled into release builds: it aborts the whole process. `make fuzz`
/// found two (fuzz-keymap; regression tests in SessionTests):
/// - a table header whose `[` / `[[` is not followed by a key (a line end, `=`, `#`, `{`, …);
/// - a value expected (after `=`, after an array's `[` or `,`) but a `}` or `,` found.
/// A small scanner refuses both with the line before toml++ sees the text. It skips strings
/// (basic, literal, multi-line) and comments, and tracks whether it is inside a value (arrays,
/// inline tables); everything else is left to toml++'s own errors.
func checkWhatTomlPlusPlusAssertsOn(_ text: String, file: String) throws {
    let c = Array(text.unicodeScalars)
    var i = 0, line = 1
    var stack: [Unicode.Scalar] = []      // open "[" (array) and "{" (inline table) of the current value
    var expectValue = false               // after "=", "[" (array) or "," in an array
    var atLineStart = true
    func fail(_ why: String) -> PleuraError { PleuraError(file: "\(file):\(line)", "TOML syntax: " + why) }
    func isKeyStart(_ u: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(u) || ("A"..."Z").contains(u) || ("0"..."9").contains(u) || u == "_" || u == "-" || u == "\"" || u == "'" || u == "]"
    }
    func skipString() {
        let q = c[i]
        let triple = i + 2 < c.count && c[i + 1] == q && c[i + 2] == q
        i += triple ? 3 : 1
        while i < c.count {
            if c[i] == "\n" { line += 1; if !triple { return } }
            if q == "\"" && c[i] == "\\" { i += 2; continue }
            if c[i] == q {
                if !triple { i += 1; return }
                if i + 2 < c.count && c[i + 1] == q && c[i + 2] == q { i += 3; return }
            }
            i += 1
        }
    }
    while i < c.count {
        let u = c[i]
        if u == "\n" { line += 1; i += 1; if stack.isEmpty { atLineStart = true; expectValue = false }; continue }
        if u == " " || u == "\t" || u == "\r" { i += 1; continue }
        if u == "#" { while i < c.count && c[i] != "\n" { i += 1 }; continue }
        if atLineStart && stack.isEmpty && u == "[" {
            // A table header: "[" or "[[" then (spaces) a key.
            i += 1
            if i < c.count && c[i] == "[" { i += 1 }
            while i < c.count && (c[i] == " " || c[i] == "\t") { i += 1 }
            guard i < c.count, c[i] != "\n", c[i] != "\r" else { throw fail("a table header needs a name after '[' on the same line") }
            guard isKeyStart(c[i]) else { throw fail("a table header needs a name after '[' (found '\(SafeText.sanitize(String(c[i])))')") }
            while i < c.count && c[i] != "\n" {
                if c[i] == "\"" || c[i] == "'" { skipString(); continue }
                if c[i] == "#" { break }
                i += 1
            }
            atLineStart = false
            continue
        }
        atLineStart = false
        if expectValue && (u == "}" || u == ",") {
            throw fail("a value is missing before '\(u)'")
        }
        switch u {
        case "\"", "'":
            skipString(); expectValue = false; continue
        case "=":
            expectValue = true
        case "[":
            if expectValue || stack.last == "[" { stack.append("["); expectValue = true } else { expectValue = false }
        case "{":
            stack.append("{"); expectValue = false
        case "]", "}":
            if !stack.isEmpty { stack.removeLast() }
            expectValue = false
        case ",":
            expectValue = stack.last == "["
        default:
            expectValue = false
        }
        i += 1
    }
}
