import Foundation
import TOMLKit

/// Which key does what: every ``Action`` bound to one or more ``Key``s.
///
/// A keymap file (`Keymaps/*.toml`) is a flat table, action name → list of keys:
///
/// ```toml
/// next_frame = ["Right", "l"]
/// undo = ["u"]
/// ```
///
/// A full keymap (``parse(_:file:)``) must bind every action, so the help screen and status line
/// are always complete. A user override (`$XDG_CONFIG_HOME/pleura/keymap.toml`, applied with
/// ``overriding(with:file:)``) lists only the actions it changes; their keys replace the base keys
/// (an empty list unbinds). Unknown actions, malformed keys and a key bound to two actions are
/// errors naming `FILE:LINE`.
public struct Keymap: Sendable {
    /// Where a binding was written (for conflict messages).
    public struct Origin: Sendable, Equatable {
        public var file: String
        public var line: Int
        public var description: String { "\(file):\(line)" }
    }

    private var keysByAction: [Action: [Key]] = [:]
    private var actionByKey: [Key: Action] = [:]
    private var origins: [Action: Origin] = [:]

    /// The files this keymap was read from, base first.
    public private(set) var sources: [String] = []

    /// The action a key triggers, or nil when the key is unbound.
    public func action(for key: Key) -> Action? { actionByKey[key] }

    /// The keys bound to an action, in the order the keymap lists them.
    public func keys(for action: Action) -> [Key] { keysByAction[action] ?? [] }

    /// Keys of an action in compact form joined by `/` (`→/l`), or `unbound`.
    public func label(for action: Action) -> String {
        let keys = keys(for: action)
        return keys.isEmpty ? "unbound" : keys.map(\.shortLabel).joined(separator: "/")
    }

    /// Parses a full keymap. Every action must have at least one key.
    public static func parse(_ text: String, file: String) throws -> Keymap {
        var map = Keymap()
        try map.apply(text, file: file, requireEveryAction: true)
        return map
    }

    /// This keymap with the bindings of an override file applied on top.
    public func overriding(with text: String, file: String) throws -> Keymap {
        var map = self
        try map.apply(text, file: file, requireEveryAction: false)
        return map
    }

    /// Reads a full keymap file and, if `userOverride` exists, applies it.
    public static func load(_ url: URL, userOverride: URL? = nil) throws -> Keymap {
        var map = try parse(readText(url), file: url.path)
        if let userOverride, FileManager.default.fileExists(atPath: userOverride.path) {
            map = try map.overriding(with: readText(userOverride), file: userOverride.path)
        }
        return map
    }

    /// Where the user's override file lives: `$XDG_CONFIG_HOME/pleura/keymap.toml`.
    public static var userOverrideURL: URL { AppPaths.configDirectory.appendingPathComponent("keymap.toml") }

    private mutating func apply(_ text: String, file: String, requireEveryAction: Bool) throws {
        let table = try parseTOML(text, file: file)
        let source = TOMLSourceMap(text: text)
        func line(_ path: String) -> Int { source.line(of: path) ?? 1 }

        // Read every entry first, in file order, so conflicts are reported at the later line.
        var entries: [(action: Action, keys: [(Key, Int)], line: Int)] = []
        let names = table.keys.sorted { line($0) < line($1) }
        for name in names {
            let at = line(name)
            guard let action = Action(rawValue: name) else {
                throw PleuraError(file: "\(file):\(at)", "unknown action '\(name)' (actions: "
                                  + Action.allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
            guard let array = table[name]?.array else {
                throw PleuraError(file: "\(file):\(at)", "\(name) must be a list of keys, like [\"Right\", \"l\"]")
            }
            var keys: [(Key, Int)] = []
            var occurrences: [String: Int] = [:]
            for element in array {
                guard let spelled = element.string else {
                    throw PleuraError(file: "\(file):\(at)", "\(name) must be a list of key names in quotes, like [\"Right\", \"l\"]")
                }
                let n = occurrences[spelled, default: 0]
                occurrences[spelled] = n + 1
                let keyLine = source.line(ofString: spelled, in: name, occurrence: n) ?? at
                let key: Key
                do { key = try Key(parsing: spelled) } catch {
                    throw PleuraError(file: "\(file):\(keyLine)", "\(name): \(error.reason)")
                }
                if keys.contains(where: { $0.0 == key }) {
                    throw PleuraError(file: "\(file):\(keyLine)", "\(name): key '\(key)' is listed twice")
                }
                keys.append((key, keyLine))
            }
            entries.append((action, keys, at))
        }

        // The override replaces whole actions: drop their old keys before checking conflicts.
        for entry in entries {
            for key in keysByAction[entry.action] ?? [] where actionByKey[key] == entry.action { actionByKey[key] = nil }
            keysByAction[entry.action] = []
        }
        for entry in entries {
            for (key, keyLine) in entry.keys {
                if let other = actionByKey[key], other != entry.action {
                    let otherPlace = origins[other].map { $0.file == file ? "line \($0.line)" : $0.description } ?? "?"
                    let hint = requireEveryAction ? "" : " (list \(other.rawValue) here too to give it other keys)"
                    throw PleuraError(file: "\(file):\(keyLine)",
                                      "key '\(key)' is bound twice: to \(other.rawValue) (\(otherPlace)) and to \(entry.action.rawValue)\(hint)")
                }
                actionByKey[key] = entry.action
            }
            keysByAction[entry.action] = entry.keys.map(\.0)
            origins[entry.action] = Origin(file: file, line: entry.line)
        }
        if requireEveryAction {
            let missing = Action.allCases.filter { (keysByAction[$0] ?? []).isEmpty }
            if !missing.isEmpty {
                throw PleuraError(file: "\(file):1", "no key for "
                                  + missing.map(\.rawValue).joined(separator: ", ")
                                  + " (a full keymap binds every action; see Keymaps/default.toml)")
            }
        }
        sources.append(file)
    }
}

/// Reads a UTF-8 text file, or throws a ``PleuraError`` naming it.
func readText(_ url: URL) throws -> String {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
        throw PleuraError(file: url.path, "cannot read the file (\((error as NSError).localizedDescription))")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw PleuraError(file: url.path, "not UTF-8 text")
    }
    return text
}

extension Keymap {
    /// The folders searched for a keymap given by name (`default`, `vim`, `keypad`): `Keymaps/`
    /// beside and above the session file, in the current directory, and in the checkout the
    /// running executable was built in (`<repo>/.build/<config>/pleura` → `<repo>/Keymaps`), then
    /// `/usr/share/pleura/Keymaps`.
    public static func searchFolders(sessionFile: URL?) -> [URL] {
        var out: [URL] = []
        if let sessionFile {
            let dir = sessionFile.deletingLastPathComponent()
            out.append(dir.appendingPathComponent("Keymaps"))
            out.append(dir.deletingLastPathComponent().appendingPathComponent("Keymaps"))
        }
        out.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Keymaps"))
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            out.append(dir.appendingPathComponent("Keymaps"))
            dir.deleteLastPathComponent()
        }
        out.append(URL(fileURLWithPath: "/usr/share/pleura/Keymaps"))
        return out
    }

    /// Finds a keymap by name or path (see ``searchFolders(sessionFile:)``), loads it and applies
    /// the user's override. `nameOrPath` containing `/` or ending in `.toml` is a path.
    public static func resolve(_ nameOrPath: String, sessionFile: URL?, userOverride: URL? = Keymap.userOverrideURL) throws -> Keymap {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".toml") {
            let url = URL(fileURLWithPath: nameOrPath)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw PleuraError(file: url.path, "keymap file not found")
            }
            return try load(url, userOverride: userOverride)
        }
        let folders = searchFolders(sessionFile: sessionFile)
        for folder in folders {
            let url = folder.appendingPathComponent(nameOrPath + ".toml")
            if FileManager.default.fileExists(atPath: url.path) { return try load(url.standardizedFileURL, userOverride: userOverride) }
        }
        throw PleuraError(file: nameOrPath + ".toml", "no keymap of this name in "
                          + folders.map { $0.standardizedFileURL.path }.joined(separator: ", ")
                          + " (give a path, or use default, vim or keypad)")
    }
}
