import Foundation
import TOMLKit

/// Which key does what: every ``Action`` bound to one or more ``Key``s, per mode.
///
/// A keymap file (`Keymaps/*.toml`) has a table of shared keys and one per mode, action name →
/// list of keys:
///
/// ```toml
/// [common]                # every mode: clips, playback, overlay, help, quit
/// next_item = ["n"]
/// [label]
/// next_frame = ["Right", "l"]
/// [rate]
/// rate_point_1 = ["1"]
/// ```
///
/// A mode's keys are `[common]` plus its own table, so `1` may set severity 1 in label mode and
/// rate in rate mode; conflicts are checked per mode. Review mode also reads `[label]`: the trainee
/// answers with the labelling keys. A flat file without tables (the format of
/// the first keymaps, still read unchanged) puts each action in its own table
/// (``Action/table``).
///
/// A full keymap (``parse(_:file:)``) must bind every action of `[common]`, `[label]` and each
/// other mode table it has; a mode table it lacks is taken from `Keymaps/default.toml`
/// (``filling(from:)``, which ``load(_:userOverride:)`` does). A user override
/// (`$XDG_CONFIG_HOME/pleura/keymap.toml`, applied with ``overriding(with:file:)``) lists only the
/// actions it changes; their keys replace the base keys (an empty list unbinds). Unknown actions,
/// an action in another mode's table, malformed keys and a key bound to two actions of one mode
/// are errors naming `FILE:LINE`.
public struct Keymap: Sendable {
    /// Where a binding was written (for conflict messages).
    public struct Origin: Sendable, Equatable {
        public var file: String
        public var line: Int
        public var description: String { "\(file):\(line)" }
    }

    private var keysByAction: [Action: [Key]] = [:]
    private var actionByKey: [KeymapTable: [Key: Action]] = [:]
    private var origins: [Action: Origin] = [:]

    /// The files this keymap was read from, base first.
    public private(set) var sources: [String] = []

    /// The action a key triggers in label mode, or nil when the key is unbound there.
    public func action(for key: Key) -> Action? { action(for: key, in: .label) }

    /// The action a key triggers in a mode: `[common]` first, then the mode's table.
    public func action(for key: Key, in mode: Session.Mode) -> Action? {
        if let a = actionByKey[.common]?[key] { return a }
        return KeymapTable(mode).modeTables.lazy.compactMap { self.actionByKey[$0]?[key] }.first
    }

    /// The keys bound to an action, in the order the keymap lists them.
    public func keys(for action: Action) -> [Key] { keysByAction[action] ?? [] }

    /// Keys of an action in compact form joined by `/` (`→/l`), or `unbound`.
    public func label(for action: Action) -> String {
        let keys = keys(for: action)
        return keys.isEmpty ? "unbound" : keys.map(\.shortLabel).joined(separator: "/")
    }

    /// Whether some action of this table has keys (a file's table, or one filled in).
    public func hasTable(_ table: KeymapTable) -> Bool {
        table.actions.contains { !(keysByAction[$0] ?? []).isEmpty }
    }

    /// Parses a full keymap. Every action of `[common]`, `[label]` and of each other mode table
    /// the file has must have at least one key.
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

    /// This keymap with the mode tables it lacks taken from `base` (the default keymap), so a
    /// keymap written before rate mode existed works in rate mode too. A base key that this
    /// keymap's `[common]` already uses is left out; an action left without keys is an error
    /// saying which table to add.
    public func filling(from base: Keymap) throws -> Keymap {
        var map = self
        for table in KeymapTable.allCases where table != .common && table != .label && !hasTable(table) && base.hasTable(table) {
            for action in table.actions {
                let keys = base.keys(for: action).filter { key in
                    Self.conflictingTables(table).allSatisfy { $0 == table || map.actionByKey[$0]?[key] == nil }
                }
                guard !keys.isEmpty else {
                    throw PleuraError(file: (sources.last ?? "keymap") + ":1",
                                      "has no [\(table.rawValue)] table, and the default keys of \(action.rawValue) ("
                                      + base.label(for: action) + ") are taken by other keys here; add a [\(table.rawValue)] table")
                }
                map.keysByAction[action] = keys
                for key in keys { map.actionByKey[table, default: [:]][key] = action }
                if let origin = base.origins[action] { map.origins[action] = origin }
            }
            if let first = base.sources.first, !map.sources.contains(first) { map.sources.append(first + " [\(table.rawValue)]") }
        }
        return map
    }

    /// Reads a full keymap file, fills the mode tables it lacks from `default.toml` beside it,
    /// and, if `userOverride` exists, applies it.
    public static func load(_ url: URL, userOverride: URL? = nil) throws -> Keymap {
        var map = try parse(readText(url), file: url.path)
        let defaultURL = url.deletingLastPathComponent().appendingPathComponent("default.toml")
        if url.standardizedFileURL.path != defaultURL.standardizedFileURL.path,
           KeymapTable.allCases.contains(where: { !map.hasTable($0) }),
           FileManager.default.fileExists(atPath: defaultURL.path) {
            map = try map.filling(from: parse(readText(defaultURL), file: defaultURL.path))
        }
        if let userOverride, FileManager.default.fileExists(atPath: userOverride.path) {
            map = try map.overriding(with: readText(userOverride), file: userOverride.path)
        }
        return map
    }

    /// Where the user's override file lives: `$XDG_CONFIG_HOME/pleura/keymap.toml`.
    public static var userOverrideURL: URL { AppPaths.configDirectory.appendingPathComponent("keymap.toml") }

    /// The tables a key of `table` must not already be used in.
    private static func conflictingTables(_ table: KeymapTable) -> [KeymapTable] {
        // Review mode also reads [label] (the trainee's answer keys), so the two must not share a key.
        if table == .common { return KeymapTable.allCases }
        if table == .label { return [.common, .label, .review] }
        return [.common] + table.modeTables
    }

    private mutating func apply(_ text: String, file: String, requireEveryAction: Bool) throws {
        let top = try parseTOML(text, file: file)
        let source = TOMLSourceMap(text: text)
        func line(_ path: String) -> Int { source.line(of: path) ?? source.line(ofTable: path) ?? 1 }

        // (path as written, action name, value) in file order: top-level actions and tables' actions.
        var raw: [(path: String, name: String, table: KeymapTable?, value: TOMLValueConvertible)] = []
        for name in top.keys {
            if let table = KeymapTable(rawValue: name) {
                guard let sub = top[name]?.table else {
                    throw PleuraError(file: "\(file):\(line(name))", "\(name) must be a table ([\(name)])")
                }
                for key in sub.keys { raw.append(("\(name).\(key)", key, table, sub[key]!)) }
            } else {
                raw.append((name, name, nil, top[name]!))
            }
        }
        raw.sort { line($0.path) < line($1.path) }

        // Read every entry first, in file order, so conflicts are reported at the later line.
        var entries: [(action: Action, keys: [(Key, Int)], line: Int)] = []
        var tablesInFile = Set<KeymapTable>()
        for item in raw {
            let at = line(item.path)
            let name = item.name
            guard let action = Action(rawValue: name) else {
                throw PleuraError(file: "\(file):\(at)", "unknown action '\(name)' (actions: "
                                  + Action.allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
            if let table = item.table, table != action.table {
                throw PleuraError(file: "\(file):\(at)", "\(name) belongs in [\(action.table.rawValue)], not [\(table.rawValue)]")
            }
            tablesInFile.insert(action.table)
            guard let array = item.value.array else {
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
                let keyLine = source.line(ofString: spelled, in: item.path, occurrence: n) ?? at
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
            let table = entry.action.table
            for key in keysByAction[entry.action] ?? [] where actionByKey[table]?[key] == entry.action { actionByKey[table]?[key] = nil }
            keysByAction[entry.action] = []
        }
        for entry in entries {
            let table = entry.action.table
            for (key, keyLine) in entry.keys {
                for other in Self.conflictingTables(table) {
                    guard let otherAction = actionByKey[other]?[key], otherAction != entry.action else { continue }
                    let otherPlace = origins[otherAction].map { $0.file == file ? "line \($0.line)" : $0.description } ?? "?"
                    let hint = requireEveryAction ? "" : " (list \(otherAction.rawValue) here too to give it other keys)"
                    throw PleuraError(file: "\(file):\(keyLine)",
                                      "key '\(key)' is bound twice: to \(otherAction.rawValue) (\(otherPlace)) and to \(entry.action.rawValue)\(hint)")
                }
                actionByKey[table, default: [:]][key] = entry.action
            }
            keysByAction[entry.action] = entry.keys.map(\.0)
            origins[entry.action] = Origin(file: file, line: entry.line)
        }
        if requireEveryAction {
            let required: Set<KeymapTable> = tablesInFile.union([.common, .label])
            let missing = Action.allCases.filter { required.contains($0.table) && (keysByAction[$0] ?? []).isEmpty }
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
