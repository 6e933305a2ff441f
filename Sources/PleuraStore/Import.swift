import Foundation
import GRDB
import PleuraCore

/// What an import did.
public struct ImportSummary: Equatable, Sendable {
    /// Rows (CSV lines, JSON objects, Label Studio annotations) read.
    public var rows = 0
    /// Events appended (fields that actually changed).
    public var events = 0
    /// Predictions added.
    public var predictions = 0
    /// Media registered by the import itself (only the POCUS manifest does this).
    public var mediaAdded = 0
    /// Annotators the rows belong to, by name.
    public var annotators: [String] = []

    public init() {}
}

/// What a reader found in an import file, before any media is looked up: the one shape every
/// format (label CSV, rating CSV, JSON Lines, Label Studio) is read into. Readers check syntax,
/// shape and types (one validation layer per format); ``AnnotationStore/importRows(_:file:root:defaultRole:)``
/// then checks the rows against the store (known media, frames that exist, no duplicates) and
/// writes them all or nothing.
@_spi(Fuzzing)
public struct ImportRows: Sendable {
    /// A label row: `place` is how errors name it (`line 12`, `task 3`).
    public struct Label: Sendable {
        public var place: String
        public var media: String
        public var sha256: String?
        public var frame: Int?
        public var annotator: String
        public var labels: LabelSet
    }
    /// A rating row: one map of one trial with every answer, as the rating CSV holds it.
    public struct Rating: Sendable {
        public var place: String
        public var media: String
        public var sha256: String?
        public var frame: Int?
        public var annotator: String
        public var record: RatingRecord
    }
    public struct Prediction: Sendable {
        public var place: String
        public var media: String
        public var sha256: String?
        public var frame: Int?
        public var model: String
        public var head: String
        public var className: String
        public var probability: Double
    }
    public var labels: [Label] = []
    public var ratings: [Rating] = []
    public var predictions: [Prediction] = []

    public init() {}

    public var isEmpty: Bool { labels.isEmpty && ratings.isEmpty && predictions.isEmpty }
}

/// The readers of Pleura's exchange formats: text in, ``ImportRows`` out, no store involved (so
/// they are fuzzed on their own: Fuzz/). Each throws a ``PleuraError`` naming the file and the
/// line or task.
@_spi(Fuzzing)
public enum ExchangeReader {
    /// The canonical label CSV (design.md). `as` replaces the annotator column.
    public static func labelCSV(_ text: String, file: String, as annotatorName: String? = nil) throws -> ImportRows {
        var rows = ImportRows()
        try LabelRecord.forEachRow(text, file: file) { record, line in
            rows.labels.append(.init(place: "line \(line)", media: record.media, sha256: nil, frame: record.frame,
                                     annotator: annotatorName ?? record.annotator, labels: record.labels))
        }
        return rows
    }

    /// The canonical rating CSV (or the older eight-column one, whose missing columns read as
    /// empty: no layer, heatmap hash, trial or overlay).
    public static func ratingCSV(_ text: String, file: String, as annotatorName: String? = nil) throws -> ImportRows {
        var rows = ImportRows()
        try RatingRecord.forEachRow(text, file: file) { r, line in
            rows.ratings.append(.init(place: "line \(line)", media: r.media, sha256: nil, frame: r.frame,
                                      annotator: annotatorName ?? r.annotator, record: r))
        }
        return rows
    }
}

/// A registered media row as an import needs it: its id, its frame count (nil when the store
/// was never told) and how to name it in errors.
struct ResolvedMedia {
    var id: Int64
    var frames: Int?
    var name: String
}

/// Maps the media named in an import file to registered media rows: by sha256 when the file
/// gives one, else by path (relative to `root`): first the path registered, then the content
/// hash of the file found there (a moved file keeps its labels).
struct MediaResolver {
    let store: AnnotationStore
    let root: String
    let file: String
    private var byKey: [String: ResolvedMedia] = [:]

    init(store: AnnotationStore, root: String, file: String) {
        self.store = store
        self.root = URL(fileURLWithPath: root).standardizedFileURL.path
        self.file = file
    }

    func absolute(_ media: String) -> String {
        media.hasPrefix("/") ? URL(fileURLWithPath: media).standardizedFileURL.path
            : URL(fileURLWithPath: root).appendingPathComponent(media).standardizedFileURL.path
    }

    mutating func resolve(media: String, sha256: String?, place: String) throws -> ResolvedMedia {
        let key = (sha256 ?? "") + "|" + media
        if let known = byKey[key] { return known }
        var found: MediaRecord? = nil
        if let sha256, !sha256.isEmpty { found = try store.media(sha256: sha256) }
        // Exports name media whose file changed as sha256:HEX.
        if found == nil, media.hasPrefix("sha256:") { found = try store.media(sha256: String(media.dropFirst(7))) }
        let path = absolute(media)
        if found == nil { found = try store.media(atPath: path) }
        if found == nil, FileManager.default.fileExists(atPath: path) {
            found = try store.media(sha256: try SHA256.hexOfFile(atPath: path))
        }
        guard let record = found else {
            throw PleuraError(file: file, "\(place): unknown media '\(media)' (looked for \(path)): register it first with `pleura add FILE --store \(store.path)`, or give --root")
        }
        // A still image is one frame even when it was registered without a count.
        let frames = record.facts.frames ?? (record.facts.kind == "image" ? 1 : nil)
        let resolved = ResolvedMedia(id: record.id, frames: frames, name: media)
        byKey[key] = resolved
        return resolved
    }

    /// Refuses a frame the media does not have. Media registered without a frame count (only
    /// possible through the API: `pleura add` and the POCUS manifest record it) are not checked.
    func check(frame: Int?, of media: ResolvedMedia, place: String) throws {
        guard let frame else { return }
        guard frame >= 0 else { throw PleuraError(file: file, "\(place): frame \(frame) is negative (frames count from 0)") }
        if let count = media.frames, frame >= count {
            let range = count == 0 ? "it has no frames" : count == 1 ? "its only frame is 0" : "its frames are 0–\(count - 1)"
            throw PleuraError(file: file, "\(place): frame \(frame) does not exist in \(media.name): the clip has \(count) frame\(count == 1 ? "" : "s") (\(range))")
        }
    }
}

extension AnnotationStore {
    /// Imports a canonical label CSV (design.md). All or nothing: a malformed row, unknown media,
    /// a frame the clip does not have or a duplicate row throws a ``PleuraError`` naming the file
    /// and line, and nothing from the file is recorded. Each row makes that annotator's labels of
    /// that item equal to the row (empty cells clear); unchanged fields append nothing, so
    /// importing twice is harmless. `as` replaces the annotator column. Media paths are relative
    /// to `root`.
    ///
    /// ```swift
    /// let summary = try store.importLabelCSV(text: try String(contentsOfFile: f, encoding: .utf8),
    ///                                        file: f, root: "/data")
    /// print("\(summary.rows) rows, \(summary.events) changes")
    /// ```
    @discardableResult
    public func importLabelCSV(text: String, file: String, root: String, as annotatorName: String? = nil) throws -> ImportSummary {
        try importRows(ExchangeReader.labelCSV(text, file: file, as: annotatorName), file: file, root: root, defaultRole: .labeller)
    }

    /// Imports a canonical rating CSV (or the older eight-column one, whose missing columns read
    /// as empty), all or nothing like ``importLabelCSV(text:file:root:as:)``. Each row makes that
    /// rater's answers on that map of that trial equal to the row.
    @discardableResult
    public func importRatingCSV(text: String, file: String, root: String, as annotatorName: String? = nil) throws -> ImportSummary {
        try importRows(ExchangeReader.ratingCSV(text, file: file, as: annotatorName), file: file, root: root, defaultRole: .rater)
    }

    /// Checks what a reader found against the store and writes it in one transaction (all or
    /// nothing): media must be registered, frames must exist in their clip, an item may appear
    /// once per annotator (once per heatmap for ratings), and a file that yields no row at all is
    /// an error rather than a successful import of nothing.
    @_spi(Fuzzing)
    public func importRows(_ rows: ImportRows, file: String, root: String, defaultRole: AnnotatorRole) throws -> ImportSummary {
        guard !rows.isEmpty else {
            throw PleuraError(file: file, "nothing to import: the file holds no label, rating or prediction rows (is it the right file and --format?)")
        }
        var resolver = MediaResolver(store: self, root: root, file: file)
        var labels: [PendingLabel] = []
        labels.reserveCapacity(rows.labels.count)
        // Duplicates would make the result depend on row order: refuse them, naming both places.
        var seenLabels: [LabelKey: String] = [:]
        seenLabels.reserveCapacity(rows.labels.count)
        for row in rows.labels {
            let media = try resolver.resolve(media: row.media, sha256: row.sha256, place: row.place)
            try resolver.check(frame: row.frame, of: media, place: row.place)
            let pending = PendingLabel(mediaID: media.id, frame: row.frame ?? -1, annotator: row.annotator, labels: row.labels)
            let key = LabelKey(mediaID: media.id, frame: pending.frame, annotator: row.annotator)
            if let first = seenLabels.updateValue(row.place, forKey: key) {
                throw PleuraError(file: file, "\(row.place): duplicate row for the same media, frame and annotator as \(first)")
            }
            labels.append(pending)
        }
        var ratings: [PendingRating] = []
        var seenRatings: [String: String] = [:]
        for row in rows.ratings {
            let media = try resolver.resolve(media: row.media, sha256: row.sha256, place: row.place)
            try resolver.check(frame: row.frame, of: media, place: row.place)
            let p = PendingRating(place: row.place, mediaID: media.id, frame: row.frame ?? -1, annotator: row.annotator,
                                  record: row.record)
            let c = p.map.heatmap
            let key = "\(media.id)|\(p.frame)|\(row.annotator)|\(c.modelSHA256)|\(c.method)|\(c.layer)|\(c.target)|\(c.heatmapSHA256)|\(p.trial)|\(p.map.slot?.rawValue ?? "")|\(p.scale)|\(String(describing: p.map.overlay))"
            if let first = seenRatings.updateValue(row.place, forKey: key) {
                throw PleuraError(file: file, "\(row.place): duplicate rating of the same heatmap as \(first)")
            }
            ratings.append(p)
        }
        var predictions: [(mediaID: Int64, row: ImportRows.Prediction)] = []
        for row in rows.predictions {
            let media = try resolver.resolve(media: row.media, sha256: row.sha256, place: row.place)
            try resolver.check(frame: row.frame, of: media, place: row.place)
            guard row.probability.isFinite, (0...1).contains(row.probability) else {
                throw PleuraError(file: file, "\(row.place): prediction score \(row.probability) is not a probability (0…1)")
            }
            predictions.append((media.id, row))
        }
        var summary = try applyImport(file: file, labels: labels, ratings: ratings, predictions: predictions, defaultRole: defaultRole)
        summary.rows = rows.labels.count + rows.ratings.count + rows.predictions.count
        return summary
    }

    /// Writes checked rows in one write transaction (all or nothing), appending `import` events
    /// in one import session per annotator; each row is one action. Label rows take a fast path
    /// (one current-state read per row, prepared statements, one event-id query per import): 300,000
    /// rows are part of the store benchmark.
    func applyImport(file: String, labels: [PendingLabel], ratings: [PendingRating],
                     predictions: [(mediaID: Int64, row: ImportRows.Prediction)] = [], defaultRole: AnnotatorRole,
                     roleOverride: AnnotatorRole? = nil) throws -> ImportSummary {
        let now = StoreClock.now(), me = OSIdentity.current
        // A large import is one transaction: with SQLite's default 2 MB page cache it spills dirty
        // index pages into the WAL again and again before the commit. 64 MB keeps the indexes'
        // working set in memory (measured: `pleura bench --suite store`); back to the default after.
        let large = labels.count > 10_000
        if large { try writeRaw { db in try db.execute(sql: "PRAGMA cache_size = -65536") } }
        defer { if large { _ = try? writeRaw { db in try db.execute(sql: "PRAGMA cache_size = -2000") } } }
        return try write { db in
            var summary = ImportSummary()
            summary.rows = labels.count + ratings.count + predictions.count
            var annotators: [String: Annotator] = [:]
            var sessions: [String: StoreSession] = [:]
            func who(_ name: String) throws -> (Annotator, StoreSession) {
                if let a = annotators[name], let s = sessions[name] { return (a, s) }
                let role = roleOverride ?? (name == "reference" ? .reference : defaultRole)
                let a = try self.ensureAnnotator(db, name: name, role: role, now: now, me: me)
                let s = try self.insertSession(db, annotator: a, name: "import \((file as NSString).lastPathComponent)", mode: "import", now: now, me: me)
                annotators[name] = a; sessions[name] = s
                return (a, s)
            }
            if !labels.isEmpty {
                var nextID = (try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) + 1 FROM event")) ?? 1
                let current = try db.cachedStatement(sql: """
                    SELECT field, value FROM current_value
                    WHERE media_id = ? AND frame = ? AND annotator_id = ? AND context_id = 0
                    """)
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO event (id, action_id, kind, reverts, at, annotator_id, session_id, os_user, uid,
                                       media_id, frame, context_id, field, old_value, new_value)
                    VALUES (?, ?, 'import', NULL, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
                    """)
                let fields = LabelField.allCases
                var old = [String?](repeating: nil, count: fields.count)
                // Media without any label yet (a first import) need no current-state reads at all.
                let hasLabels = try db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM current_value WHERE media_id = ?)")
                var mediaHasLabels: [Int64: Bool] = [:]
                for p in labels {
                    let (a, s) = try who(p.annotator)
                    for i in old.indices { old[i] = nil }
                    let known: Bool
                    if let k = mediaHasLabels[p.mediaID] { known = k } else {
                        known = try Bool.fetchOne(hasLabels, arguments: [p.mediaID]) ?? true
                        mediaHasLabels[p.mediaID] = known
                    }
                    if known {
                        let rows = try Row.fetchCursor(current, arguments: [p.mediaID, p.frame, a.id])
                        while let row = try rows.next() {
                            let name: String = row[0]
                            if let i = fields.firstIndex(where: { $0.rawValue == name }) { old[i] = row[1] }
                        }
                    }
                    let actionID = nextID
                    for (i, field) in fields.enumerated() {
                        let value = p.labels.value(of: field)?.text
                        if value == old[i] { continue }
                        try insert.execute(arguments: [nextID, actionID, now, a.id, s.id, me.user, me.uid,
                                                       p.mediaID, p.frame, field.rawValue, old[i], value])
                        nextID += 1
                        summary.events += 1
                    }
                }
            }
            for p in ratings {
                let (a, s) = try who(p.annotator)
                let contextID = try self.ratingContextID(db, p.map, trial: p.trial, scale: p.scale)
                summary.events += try self.appendAction(db, kind: .import, annotator: a, session: s, sha256ByMediaID: [:],
                                                        changes: RatingField.allCases.map {
                    FieldChange(mediaID: p.mediaID, frame: p.frame, contextID: contextID, field: $0.rawValue, value: p.values[$0] ?? nil)
                }).count
            }
            if !predictions.isEmpty {
                let insert = try db.cachedStatement(sql: """
                    INSERT OR IGNORE INTO prediction (media_id, frame, model_sha256, head, class, probability, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
                for (mediaID, p) in predictions {
                    try insert.execute(arguments: [mediaID, p.frame ?? -1, p.model, p.head, p.className, p.probability, now])
                    summary.predictions += db.changesCount
                }
            }
            summary.annotators = annotators.keys.sorted()
            return summary
        }
    }

    /// Inserts a media row and its first path (inside the caller's transaction).
    func insertMedia(_ db: Database, sha256: String, path: String, facts: MediaFacts, now: String, me: OSIdentity) throws -> Int64 {
        try db.execute(sql: """
            INSERT INTO media (sha256, kind, container, codec, width, height, fps, frames, bytes, registered_at, os_user, uid)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [sha256, facts.kind, facts.container, facts.codec, facts.width, facts.height,
                             facts.fps, facts.frames, facts.bytes, now, me.user, me.uid])
        let id = db.lastInsertedRowID
        try db.execute(sql: "INSERT INTO media_path (media_id, path, seen_at, os_user, uid) VALUES (?, ?, ?, ?, ?)",
                       arguments: [id, path, now, me.user, me.uid])
        return id
    }

    func ensureAnnotator(_ db: Database, name: String, role: AnnotatorRole, now: String, me: OSIdentity) throws -> Annotator {
        guard !name.isEmpty else { throw PleuraError(file: path, "an annotator needs a name") }
        if let known = try Self.fetchAnnotator(db, name: name) { return known }
        try db.execute(sql: "INSERT INTO annotator (name, role, created_at, os_user, uid) VALUES (?, ?, ?, ?, ?)",
                       arguments: [name, role.rawValue, now, me.user, me.uid])
        return Annotator(id: db.lastInsertedRowID, name: name, role: role, osUser: me.user, uid: me.uid)
    }

    func insertSession(_ db: Database, annotator: Annotator, name: String, mode: String, now: String, me: OSIdentity) throws -> StoreSession {
        try db.execute(sql: """
            INSERT INTO session (annotator_id, name, mode, started_at, os_user, uid, host, pid, pleura_version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [annotator.id, name, mode, now, me.user, me.uid, ProcessInfo.processInfo.hostName,
                             Int(getpid()), PleuraVersion.string])
        return StoreSession(id: db.lastInsertedRowID, annotatorID: annotator.id, name: name, mode: mode, startedAt: now)
    }
}

/// A checked label row: media row id, frame (-1: whole video), annotator name, labels.
struct PendingLabel {
    var mediaID: Int64
    var frame: Int
    var annotator: String
    var labels: LabelSet
}

/// The key two label rows of one import must not share.
struct LabelKey: Hashable {
    var mediaID: Int64
    var frame: Int
    var annotator: String
}

/// A checked rating row: one map of one trial, every answer field (nil clears it).
struct PendingRating {
    var place: String
    var mediaID: Int64
    var frame: Int
    var annotator: String
    var trial: String
    var scale: RatingScale
    var map: RatedMap
    var values: [RatingField: String?]

    init(place: String, mediaID: Int64, frame: Int, annotator: String, record r: RatingRecord) {
        self.place = place; self.mediaID = mediaID; self.frame = frame; self.annotator = annotator
        trial = r.trial; scale = r.scale
        map = RatedMap(heatmap: HeatmapContext(modelSHA256: r.model, method: r.method, layer: r.layer, target: r.target,
                                               heatmapSHA256: r.heatmapSHA256), overlay: r.overlay, slot: r.slot)
        values = [.rating: r.rating.map { String($0.rawValue) }, .comment: AnnotationStore.nonEmpty(r.comment),
                  .highlighted: r.highlighted.map(RatingPattern.text(of:)), .classGuess: AnnotationStore.nonEmpty(r.classGuess),
                  .visible: r.visible.map(RatingPattern.text(of:)), .better: r.better?.rawValue,
                  .seconds: r.seconds.map(AnnotationStore.secondsText)]
    }
}
