import Foundation
import TOMLKit

/// The login user of this process, the default annotator name: the password entry's name for
/// the uid, else `$USER`/`$LOGNAME`, else `uid<N>`. (The store records the OS user and uid beside
/// every change itself.)
public enum LoginUser {
    public static var name: String {
        let uid = getuid()
        if let pw = getpwuid(uid), let cName = pw.pointee.pw_name {
            let n = String(cString: cName)
            if !n.isEmpty { return n }
        }
        let env = ProcessInfo.processInfo.environment
        if let n = env["USER"] ?? env["LOGNAME"], !n.isEmpty { return n }
        return "uid\(uid)"
    }
}

/// Which label fields a session asks for. Actions on fields outside the schema are refused with
/// a message, and the side panel shows only the schema's fields.
public struct LabelSchema: Equatable, Sendable {
    public var findings: [Finding]
    public var severity: Bool
    public var quality: Bool
    public var note: Bool
    /// Hu et al.'s six frame classes (`frame_classes = "hu6"`) instead of the findings: one class
    /// per frame, scored 0–4 (see ``HuFrameClass``).
    public var huFrameClasses = false

    public init(findings: [Finding] = Finding.allCases, severity: Bool = true, quality: Bool = true, note: Bool = true) {
        self.findings = findings
        self.severity = severity
        self.quality = quality
        self.note = note
    }

    public static let full = LabelSchema()

    public func allows(_ field: LabelField) -> Bool {
        if let f = field.finding { return findings.contains(f) }
        switch field {
        case .severity: return severity
        case .quality: return quality
        case .note: return note
        default: return false
        }
    }
}

/// A labelling, rating or review session, read from `Sessions/*.toml`.
///
/// ```toml
/// name = "Convex clips, first pass"
/// mode = "label"                        # label | rate | review
/// media = ["clips/*.mp4"]               # globs relative to this file
/// store = "{cache}/convex.sqlite"       # relative to this file; {cache} = Pleura's cache folder
/// annotator = "dr-lee"                  # default: the login user (the store adds the OS uid)
/// keymap = "default"                    # a name in Keymaps/, or a path relative to this file
/// order = "shuffled"                    # sequential | shuffled (clip order)
/// seed = 7                              # shuffle seed
/// blinding = true                       # hide file names (show "clip 3 of 12")
///
/// [sampling]                            # which frames of each clip are labelled
/// every = 5                             # every 5th frame; or: per_clip = 10
///
/// [model]
/// path = "embedded"
/// heatmap = "gradcam"
///
/// [schema]
/// findings = ["a_lines", "b1_lines", "b2_lines", "consolidation"]
/// severity = true
/// quality = true
/// note = true
///
/// [phantom]                             # instead of media: Pleura's synthetic clips
/// count = 4
/// seed = 1
///
/// [rate]                                # rate sessions (mode = "rate") only
/// unit = "frame"                        # frame | clip (a clip loops with its per-frame maps)
/// models = ["embedded"]                 # the model(s) whose maps are rated
/// methods = ["gradcam"]                 # and the method(s); every pair is rated
/// target = "predicted"                  # predicted | reference:ANNOTATOR | a class name
/// scale = "seven"                       # seven (-3 … 3) | born (-3 … 3 without 0)
/// paired = false                        # true: two maps of one item side by side, "which is better"
/// questions = ["class_guess", "patterns_visible", "patterns_highlighted", "comment"]
/// colormap = "jet"                      # jet | turbo | inferno
/// opacity = 50                          # percent
/// threshold = 0.0                       # map values below it are not drawn (0 … 1)
/// ```
///
/// Rate sessions are blinded unless `blinding = false`, and their item order is shuffled per
/// rater (from `seed` and the rater's name).
public struct Session: Sendable {
    public enum Mode: String, CaseIterable, Sendable { case label, rate, review }

    /// Which frames of a clip are items to label.
    public enum Sampling: Equatable, Sendable {
        case everyFrame
        case everyNth(Int)
        case perClip(Int)

        /// The sampled frame indexes of a clip with `frameCount` frames, ascending.
        public func frames(count frameCount: Int) -> [Int] {
            guard frameCount > 0 else { return [] }
            switch self {
            case .everyFrame: return Array(0..<frameCount)
            case .everyNth(let n): return Array(stride(from: 0, to: frameCount, by: max(1, n)))
            case .perClip(let n):
                if n >= frameCount { return Array(0..<frameCount) }
                // The centres of n equal parts of the clip: spread out, deterministic.
                return (0..<n).map { i in (2 * i + 1) * frameCount / (2 * n) }
            }
        }
    }

    public enum Order: Equatable, Sendable {
        case sequential
        case shuffled(seed: UInt64)
    }

    /// Where the media come from.
    public enum MediaSource: Equatable, Sendable {
        /// Glob patterns, already made absolute (relative ones are resolved against the file).
        case files([String])
        /// Pleura's phantom clips (`DemoMedia.ensureClips(count:seed:)`).
        case phantom(count: Int, seed: UInt64)
    }

    public struct ModelChoice: Equatable, Sendable {
        /// `embedded`, or an absolute path to a TorchScript file.
        public var path: String
        public var heatmap: HeatmapMethod
    }

    /// The session file itself.
    public var file: URL
    public var name: String
    public var mode: Mode
    public var media: MediaSource
    public var store: URL
    /// The annotator name labels are recorded under.
    public var annotator: String
    /// A keymap name (looked up in Keymaps/ folders) or an absolute path.
    public var keymap: String
    public var sampling: Sampling
    public var order: Order
    public var blinding: Bool
    public var model: ModelChoice?
    public var schema: LabelSchema
    /// What a rate session rates and asks (nil for label and review sessions).
    public var rate: RateSettings?
    /// What a review session reviews (nil for label and rate sessions).
    public var review: ReviewSettings?
    /// The link to the terminal in Mbit/s (`link_mbit`), fixing what playback plans with instead
    /// of measuring it from write timing; nil: measure.
    public var linkMegabits: Double? = nil
    /// Exams and lung zones (`[exam]`), nil when the session has none.
    public var exam: ExamSettings? = nil

    /// The settings a session file may contain (anything else is a typo and an error).
    static let knownKeys: Set<String> = Set([
        "name", "mode", "media", "store", "annotator", "keymap", "order", "seed", "blinding", "link_mbit",
        "sampling", "sampling.every", "sampling.per_clip",
        "model", "model.path", "model.heatmap",
        "schema", "schema.findings", "schema.severity", "schema.quality", "schema.note", "schema.frame_classes",
        "exam", "exam.protocol", "exam.pattern", "exam.groups",
        "phantom", "phantom.count", "phantom.seed",
        "rate", "rate.unit", "rate.models", "rate.methods", "rate.target", "rate.head", "rate.scale", "rate.paired",
        "rate.questions", "rate.colormap", "rate.opacity", "rate.threshold",
    ] + ["review"] + ReviewSettings.knownKeys.map { "review." + $0 })

    /// Reads and checks a session file. Any problem is a ``PleuraError`` naming `FILE:LINE`.
    public static func load(_ url: URL) throws -> Session {
        try parse(readText(url), file: url)
    }

    /// Parses session text; `file` is where it came from (relative paths resolve against it).
    public static func parse(_ text: String, file: URL) throws -> Session {
        let path = file.path
        let table = try parseTOML(text, file: path)
        let source = TOMLSourceMap(text: text)
        func at(_ key: String) -> String { "\(path):\(source.line(of: key) ?? source.line(ofTable: key) ?? 1)" }
        func fail(_ key: String, _ reason: String) -> PleuraError { PleuraError(file: at(key), reason) }

        for (key, line) in source.keyPaths where !knownKeys.contains(key) {
            throw PleuraError(file: "\(path):\(line)", "unknown setting '\(key)' (settings: "
                              + knownKeys.sorted().joined(separator: ", ") + ")")
        }
        for sub in ["sampling", "model", "schema", "phantom", "rate", "review", "exam"] {
            if let value = table[sub], value.table == nil { throw fail(sub, "\(sub) must be a table ([\(sub)])") }
        }

        func string(_ t: TOMLTable?, _ key: String, _ full: String) throws -> String? {
            guard let v = t?[key] else { return nil }
            guard let s = v.string else { throw fail(full, "\(full) must be text in quotes") }
            return s
        }
        func int(_ t: TOMLTable?, _ key: String, _ full: String, min: Int) throws -> Int? {
            guard let v = t?[key] else { return nil }
            guard let n = v.int else { throw fail(full, "\(full) must be a whole number") }
            guard n >= min else { throw fail(full, "\(full) must be at least \(min) (found \(n))") }
            return n
        }
        func bool(_ t: TOMLTable?, _ key: String, _ full: String) throws -> Bool? {
            guard let v = t?[key] else { return nil }
            guard let b = v.bool else { throw fail(full, "\(full) must be true or false") }
            return b
        }

        let dir = file.deletingLastPathComponent()
        let defaultName = file.deletingPathExtension().lastPathComponent
        let name = try string(table, "name", "name") ?? defaultName
        guard !name.isEmpty else { throw fail("name", "name is empty") }

        var mode = Mode.label
        if let m = try string(table, "mode", "mode") {
            guard let parsed = Mode(rawValue: m) else { throw fail("mode", "mode '\(m)' must be label, rate or review") }
            mode = parsed
        }

        // Media: globs, or the phantom table, exactly one of them.
        let phantomTable = table["phantom"]?.table
        var media: MediaSource
        if let phantomTable {
            if table["media"] != nil {
                throw fail("media", "a session has either media or [phantom] (line \(source.line(ofTable: "phantom") ?? 1)), not both")
            }
            let count = try int(phantomTable, "count", "phantom.count", min: 1) ?? 4
            let seed = try int(phantomTable, "seed", "phantom.seed", min: 0) ?? 1
            media = .phantom(count: count, seed: UInt64(seed))
        } else {
            guard let value = table["media"] else {
                throw PleuraError(file: "\(path):1", "no media: add media = [\"clips/*.mp4\"] (globs relative to this file) or a [phantom] table")
            }
            var patterns: [String] = []
            if let s = value.string { patterns = [s] }
            else if let array = value.array {
                for element in array {
                    guard let s = element.string else { throw fail("media", "media must be a list of file patterns in quotes") }
                    patterns.append(s)
                }
            } else { throw fail("media", "media must be a file pattern or a list of them, like [\"clips/*.mp4\"]") }
            if patterns.isEmpty { throw fail("media", "media is an empty list") }
            media = .files(patterns.map { resolve($0, against: dir).path })
        }

        let storeText = try string(table, "store", "store") ?? "\(defaultName).sqlite"
        guard !storeText.isEmpty else { throw fail("store", "store is empty") }
        let store = resolve(storeText, against: dir)

        var annotator = LoginUser.name
        if let a = try string(table, "annotator", "annotator") {
            guard !a.isEmpty, !a.unicodeScalars.contains(where: SafeText.isUnsafe) else {
                throw fail("annotator", "annotator must be a non-empty name without control characters")
            }
            annotator = a
        }

        var keymap = try string(table, "keymap", "keymap") ?? "default"
        if keymap.isEmpty { throw fail("keymap", "keymap is empty (use \"default\", \"vim\", \"keypad\" or a path)") }
        if keymap.contains("/") || keymap.hasSuffix(".toml") { keymap = resolve(keymap, against: dir).path }

        let samplingTable = table["sampling"]?.table
        var sampling = Sampling.everyFrame
        let every = try int(samplingTable, "every", "sampling.every", min: 1)
        let perClip = try int(samplingTable, "per_clip", "sampling.per_clip", min: 1)
        if every != nil && perClip != nil {
            throw fail("sampling.per_clip", "sampling has both every and per_clip; choose one")
        }
        if let every { sampling = every == 1 ? .everyFrame : .everyNth(every) }
        if let perClip { sampling = .perClip(perClip) }

        var order = Order.sequential
        let seed = try int(table, "seed", "seed", min: 0)
        if let o = try string(table, "order", "order") {
            switch o {
            case "sequential": order = .sequential
            case "shuffled": order = .shuffled(seed: UInt64(seed ?? 0))
            default: throw fail("order", "order '\(o)' must be sequential or shuffled")
            }
        }
        if seed != nil, order == .sequential {
            throw fail("seed", "seed only applies to order = \"shuffled\"")
        }

        // Rating studies are blind by default (Born et al.: clips renamed at random).
        let blinding = try bool(table, "blinding", "blinding") ?? (mode == .rate)

        var model: ModelChoice? = nil
        if let modelTable = table["model"]?.table {
            var modelPath = try string(modelTable, "path", "model.path") ?? "embedded"
            if modelPath.isEmpty { throw fail("model.path", "model.path is empty (use \"embedded\" or a .pt file)") }
            if modelPath != "embedded" { modelPath = resolve(modelPath, against: dir).path }
            var method = HeatmapMethod.gradcam
            if let h = try string(modelTable, "heatmap", "model.heatmap") {
                guard let m = HeatmapMethod(name: h) else {
                    throw fail("model.heatmap", "heatmap '\(h)' must be one of " + HeatmapMethod.validNames)
                }
                method = m
            }
            model = ModelChoice(path: modelPath, heatmap: method)
        }

        var schema = LabelSchema.full
        if let schemaTable = table["schema"]?.table {
            if let value = schemaTable["findings"] {
                guard let array = value.array else { throw fail("schema.findings", "schema.findings must be a list like [\"a_lines\", \"b1_lines\"]") }
                var findings: [Finding] = []
                for element in array {
                    guard let s = element.string, let f = Finding(rawValue: s) else {
                        let shown = element.string ?? "\(element)"
                        let line = element.string.flatMap { source.line(ofString: $0, in: "schema.findings") }
                        throw PleuraError(file: line.map { "\(path):\($0)" } ?? at("schema.findings"),
                                          "unknown finding '\(shown)' (findings: " + Finding.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                    }
                    if !findings.contains(f) { findings.append(f) }
                }
                schema.findings = findings
            }
            schema.severity = try bool(schemaTable, "severity", "schema.severity") ?? true
            schema.quality = try bool(schemaTable, "quality", "schema.quality") ?? true
            schema.note = try bool(schemaTable, "note", "schema.note") ?? true
            if let classes = try string(schemaTable, "frame_classes", "schema.frame_classes") {
                guard classes == "hu6" else { throw fail("schema.frame_classes", "frame_classes '\(classes)' must be \"hu6\" (Hu et al.'s six classes)") }
                schema.huFrameClasses = true
                // The six classes replace the findings checkboxes (unless the file lists findings too).
                if schemaTable["findings"] == nil { schema.findings = [] }
            }
        }

        var rate: RateSettings? = nil
        if let rateTable = table["rate"]?.table {
            guard mode == .rate else { throw fail("rate", "[rate] only applies to mode = \"rate\" (this session is \(mode.rawValue))") }
            rate = try RateSettings.parse(rateTable, defaultModel: model, dir: dir, at: at)
        } else if mode == .rate {
            rate = RateSettings(models: [model?.path ?? "embedded"], methods: [model?.heatmap ?? .gradcam])
        }

        var session = Session(file: file, name: name, mode: mode, media: media, store: store, annotator: annotator,
                              keymap: keymap, sampling: sampling, order: order, blinding: blinding, model: model, schema: schema,
                              rate: rate)
        if let reviewTable = table["review"]?.table {
            guard mode == .review else { throw fail("review", "[review] only applies to mode = \"review\" (this session is \(mode.rawValue))") }
            session.review = try ReviewSettings.parse(reviewTable, at: at)
        } else if mode == .review {
            session.review = ReviewSettings()
        }
        if let examTable = table["exam"]?.table {
            session.exam = try ExamSettings.parse(examTable, at: at)
        }
        if let v = table["link_mbit"] {
            guard let x = v.double ?? v.int.map(Double.init), x > 0, x <= 100_000 else {
                throw fail("link_mbit", "link_mbit must be the link's speed in Mbit/s, a number above 0 (e.g. 10)")
            }
            session.linkMegabits = x
        }
        return session
    }

    /// `{cache}/x` → Pleura's cache folder; `~/x` → home; relative → against `dir`.
    static func resolve(_ text: String, against dir: URL) -> URL {
        if text.hasPrefix("{cache}") {
            let rest = text.dropFirst("{cache}".count).drop { $0 == "/" }
            return AppPaths.cacheDirectory.appendingPathComponent(String(rest)).standardizedFileURL
        }
        if text.hasPrefix("~/") {
            let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
            return URL(fileURLWithPath: home).appendingPathComponent(String(text.dropFirst(2))).standardizedFileURL
        }
        if text.hasPrefix("/") { return URL(fileURLWithPath: text).standardizedFileURL }
        return dir.appendingPathComponent(text).standardizedFileURL
    }

    /// The media files the glob patterns match, sorted and de-duplicated, in session order
    /// (shuffled when `order` says so). A pattern that matches nothing is an error naming its line.
    /// Phantom sessions have no files here (the caller asks PleuraPhantom for them).
    public func mediaFiles() throws -> [URL] {
        guard case .files(let patterns) = media else { return [] }
        var seen = Set<String>()
        var files: [URL] = []
        for pattern in patterns {
            let matches = Self.glob(pattern)
            if matches.isEmpty {
                let text = (try? readText(file)) ?? ""
                let source = TOMLSourceMap(text: text)
                let relative = pattern.hasPrefix(file.deletingLastPathComponent().path + "/")
                    ? String(pattern.dropFirst(file.deletingLastPathComponent().path.count + 1)) : pattern
                let line = source.line(ofString: relative, in: "media") ?? source.line(of: "media") ?? 1
                throw PleuraError(file: "\(file.path):\(line)", "media pattern '\(relative)' matches no file (it is relative to the session file)")
            }
            for m in matches where seen.insert(m).inserted { files.append(URL(fileURLWithPath: m)) }
        }
        return ordered(files)
    }

    /// Applies `order` to a list (clips are shuffled as wholes; frames stay in order).
    public func ordered<T>(_ items: [T]) -> [T] {
        guard case .shuffled(let seed) = order else { return items }
        var rng = SplitMix64(seed: seed)
        var out = items
        if out.count > 1 {
            for i in stride(from: out.count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                out.swapAt(i, j)
            }
        }
        return out
    }

    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] {
                let s = String(cString: p)
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: s, isDirectory: &isDir), !isDir.boolValue { out.append(s) }
            }
        }
        return out.sorted()
    }
}
