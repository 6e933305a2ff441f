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
        /// 0…1 (the spread of the probability over MC-dropout samples); nil when not given.
        public var uncertainty: Double? = nil
    }
    public var labels: [Label] = []
    public var ratings: [Rating] = []
    public var predictions: [Prediction] = []

    public init() {}

    public var isEmpty: Bool { labels.isEmpty && ratings.isEmpty && predictions.isEmpty }
}

/// The readers of Pleura's exchange formats: text in, ``ImportRows`` out, no store involved (so
/// they are fuzzed on their own: Fuzz/). Each throws a ``PleuraError`` naming the file and the
/// line or task. The CSV readers also stream row by row (``forEachLabelCSV(_:file:as:_:)``), which
/// is how `pleura import` reads them: a large file is never held as parsed rows.
@_spi(Fuzzing)
public enum ExchangeReader {
    /// The canonical label CSV (design.md). `as` replaces the annotator column.
    public static func labelCSV(_ text: String, file: String, as annotatorName: String? = nil) throws -> ImportRows {
        var rows = ImportRows()
        try forEachLabelCSV(text, file: file, as: annotatorName) { rows.labels.append($0) }
        return rows
    }

    /// The rows of ``labelCSV(_:file:as:)``, one at a time, in file order.
    public static func forEachLabelCSV(_ text: String, file: String, as annotatorName: String? = nil,
                                       _ body: (ImportRows.Label) throws -> Void) throws {
        try LabelRecord.forEachRow(text, file: file) { record, line in
            try body(.init(place: "line \(line)", media: record.media, sha256: nil, frame: record.frame,
                           annotator: annotatorName ?? record.annotator, labels: record.labels))
        }
    }

    /// The canonical rating CSV (or the older eight-column one, whose missing columns read as
    /// empty: no layer, heatmap hash, trial or overlay).
    public static func ratingCSV(_ text: String, file: String, as annotatorName: String? = nil) throws -> ImportRows {
        var rows = ImportRows()
        try forEachRatingCSV(text, file: file, as: annotatorName) { rows.ratings.append($0) }
        return rows
    }

    /// The rows of ``ratingCSV(_:file:as:)``, one at a time, in file order.
    public static func forEachRatingCSV(_ text: String, file: String, as annotatorName: String? = nil,
                                        _ body: (ImportRows.Rating) throws -> Void) throws {
        try RatingRecord.forEachRow(text, file: file) { r, line in
            try body(.init(place: "line \(line)", media: r.media, sha256: nil, frame: r.frame,
                           annotator: annotatorName ?? r.annotator, record: r))
        }
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
/// hash of the file found there (a moved file keeps its labels). Looks up inside the import's
/// write transaction.
struct MediaResolver {
    let storePath: String
    let root: String
    let file: String
    private var byKey: [String: ResolvedMedia] = [:]
    /// The media of the previous row: exports list a clip's rows together, so most rows hit this.
    private var last: (media: String, sha256: String?, resolved: ResolvedMedia)?

    init(storePath: String, root: String, file: String) {
        self.storePath = storePath
        self.root = URL(fileURLWithPath: root).standardizedFileURL.path
        self.file = file
    }

    func absolute(_ media: String) -> String {
        media.hasPrefix("/") ? URL(fileURLWithPath: media).standardizedFileURL.path
            : URL(fileURLWithPath: root).appendingPathComponent(media).standardizedFileURL.path
    }

    mutating func resolve(_ db: Database, media: String, sha256: String?, place: String) throws -> ResolvedMedia {
        if let last, last.media == media, last.sha256 == sha256 { return last.resolved }
        let key = (sha256 ?? "") + "|" + media
        if let known = byKey[key] { last = (media, sha256, known); return known }
        var found: MediaRecord? = nil
        if let sha256, !sha256.isEmpty { found = try AnnotationStore.fetchMedia(db, sha256: sha256.lowercased()) }
        // Exports name media whose file changed as sha256:HEX.
        if found == nil, media.hasPrefix("sha256:") {
            found = try AnnotationStore.fetchMedia(db, sha256: String(media.dropFirst(7)).lowercased())
        }
        let path = absolute(media)
        if found == nil { found = try AnnotationStore.fetchMedia(db, atPath: path) }
        if found == nil, FileManager.default.fileExists(atPath: path) {
            found = try AnnotationStore.fetchMedia(db, sha256: try SHA256.hexOfFile(atPath: path))
        }
        guard let record = found else {
            throw PleuraError(file: file, "\(place): unknown media '\(media)' (looked for \(path)): register it first with `pleura add FILE --store \(storePath)`, or give --root")
        }
        // A still image is one frame even when it was registered without a count.
        let frames = record.facts.frames ?? (record.facts.kind == "image" ? 1 : nil)
        let resolved = ResolvedMedia(id: record.id, frames: frames, name: media)
        byKey[key] = resolved
        last = (media, sha256, resolved)
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
    /// to `root`. Rows are checked and written as they are read, inside one transaction.
    ///
    /// ```swift
    /// let summary = try store.importLabelCSV(text: try String(contentsOfFile: f, encoding: .utf8),
    ///                                        file: f, root: "/data")
    /// print("\(summary.rows) rows, \(summary.events) changes")
    /// ```
    @discardableResult
    public func importLabelCSV(text: String, file: String, root: String, as annotatorName: String? = nil) throws -> ImportSummary {
        try importStreaming(file: file, root: root, defaultRole: .labeller) { writer in
            // Parsing (about a sixth of the CPU) runs on a second thread, ahead of the writer.
            try RowPipe<ImportRows.Label>.run(produce: { put in
                try ExchangeReader.forEachLabelCSV(text, file: file, as: annotatorName) { try put($0) }
            }, consume: { try writer.add(label: $0) })
        }
    }

    /// Imports a canonical rating CSV (or the older eight-column one, whose missing columns read
    /// as empty), all or nothing like ``importLabelCSV(text:file:root:as:)``. Each row makes that
    /// rater's answers on that map of that trial equal to the row.
    @discardableResult
    public func importRatingCSV(text: String, file: String, root: String, as annotatorName: String? = nil) throws -> ImportSummary {
        try importStreaming(file: file, root: root, defaultRole: .rater) { writer in
            try ExchangeReader.forEachRatingCSV(text, file: file, as: annotatorName) { try writer.add(rating: $0) }
        }
    }

    /// Checks what a reader found against the store and writes it in one transaction (all or
    /// nothing): media must be registered, frames must exist in their clip, an item may appear
    /// once per annotator (once per rating context for ratings), and a file that yields no row at
    /// all is an error rather than a successful import of nothing.
    @_spi(Fuzzing)
    public func importRows(_ rows: ImportRows, file: String, root: String, defaultRole: AnnotatorRole) throws -> ImportSummary {
        try importStreaming(file: file, root: root, defaultRole: defaultRole) { writer in
            for row in rows.labels { try writer.add(label: row) }
            for row in rows.ratings { try writer.add(rating: row) }
            for row in rows.predictions { try writer.add(prediction: row) }
        }
    }

    /// Runs `feed` with an ``ImportWriter`` inside one write transaction: every row `feed` adds
    /// is checked and written at once, and the first error (or a feed that adds no row) rolls
    /// the whole transaction back, so an import is all or nothing without holding its rows.
    ///
    /// Connection settings for the one large transaction, back to the defaults after it:
    /// - `temp_store = MEMORY`: every event insert runs with a statement journal (the protecting
    ///   triggers may abort it). Once one statement's journal outgrew SQLite's 64 KiB in-memory
    ///   buffer it became a temporary file for the rest of the transaction, and then every later
    ///   statement wrote its pages there: 7.2 million `pwrite` calls, 7 s of system time for
    ///   300,000 rows (strace, issue 15). In memory a statement's journal is a few pages.
    /// - `cache_size` 64 MB: with SQLite's default 2 MB cache the transaction's dirty index pages
    ///   spill into the WAL again and again before the commit.
    func importStreaming(file: String, root: String, defaultRole: AnnotatorRole,
                         _ feed: (ImportWriter) throws -> Void) throws -> ImportSummary {
        try writeRaw { db in try db.execute(sql: "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY") }
        defer { _ = try? writeRaw { db in try db.execute(sql: "PRAGMA cache_size = -2000; PRAGMA temp_store = DEFAULT") } }
        return try write { db in
            let writer = try ImportWriter(store: self, db: db, file: file, root: root, defaultRole: defaultRole)
            try feed(writer)
            guard writer.summary.rows > 0 else {
                throw PleuraError(file: file, "nothing to import: the file holds no label, rating or prediction rows (is it the right file and --format?)")
            }
            return try writer.finish()
        }
    }
}

/// Checks import rows against the store and appends them inside the caller's write
/// transaction, one at a time (see ``AnnotationStore/importStreaming(file:root:defaultRole:_:)``).
/// Each row is one action of `import` events in one import session per annotator. Label rows
/// take the fast path: one current-state read per row (none for media without labels yet),
/// event ids counted here instead of queried, and their events staged in a temporary table and
/// appended ``stagedBatch`` at a time by one INSERT … SELECT.
///
/// Why staged: SQLite gives every statement that may abort (the protecting triggers, foreign
/// keys) a statement journal, a copy of each page it changes that existed when it began. One
/// INSERT per event copied the few hot pages (the B-trees' right edges) into a fresh journal a
/// million times: a third of the import's CPU in malloc, memcpy and free (perf, issue 15). One
/// statement per batch journals those pages once per batch. Nothing is weakened: the rows go
/// through the same triggers (each event still sets `current_value` as it is inserted, checked
/// by `current_value_is_derived_insert`) and foreign keys, in the same transaction.
final class ImportWriter {
    private let store: AnnotationStore
    private let db: Database
    private let file: String
    private let defaultRole: AnnotatorRole
    private var resolver: MediaResolver
    private let now = StoreClock.now(), me = OSIdentity.current
    private(set) var summary = ImportSummary()
    private var people: [String: (annotator: Annotator, session: StoreSession)] = [:]
    /// Rows seen, by the key two rows of one import must not share (else the result would depend
    /// on row order), with the place of the first, for the error.
    private var seenLabels: [LabelKey: String] = [:]
    private var seenRatings: [RatingKey: String] = [:]
    private var nextEventID: Int64
    private var mediaHasLabels: [Int64: Bool] = [:]
    private let stageEvent: SQLiteStatement
    private let appendStaged: SQLiteStatement
    private let clearStaged: SQLiteStatement
    private var staged = 0
    static let stagedBatch = 10_000
    private let currentLabels: SQLiteStatement
    private let hasLabels: SQLiteStatement
    private var insertPrediction: SQLiteStatement?
    private static let fields = LabelField.allCases
    private var old = [String?](repeating: nil, count: LabelField.allCases.count)

    init(store: AnnotationStore, db: Database, file: String, root: String, defaultRole: AnnotatorRole) throws {
        self.store = store; self.db = db; self.file = file; self.defaultRole = defaultRole
        resolver = MediaResolver(storePath: store.path, root: root, file: file)
        nextEventID = (try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) + 1 FROM event")) ?? 1
        // In memory (temp_store, set by importStreaming); created in this transaction, so it
        // vanishes with a rollback and is dropped by finish().
        try db.execute(sql: """
            CREATE TEMP TABLE pleura_import_event (
                id INTEGER PRIMARY KEY, action_id INTEGER NOT NULL, annotator_id INTEGER NOT NULL,
                session_id INTEGER NOT NULL, media_id INTEGER NOT NULL, frame INTEGER NOT NULL,
                field TEXT NOT NULL, old_value TEXT, new_value TEXT)
            """)
        stageEvent = try SQLiteStatement(db, sql: """
            INSERT INTO temp.pleura_import_event (id, action_id, annotator_id, session_id, media_id, frame, field, old_value, new_value)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
            """)
        appendStaged = try SQLiteStatement(db, sql: """
            INSERT INTO main.event (id, action_id, kind, reverts, at, annotator_id, session_id, os_user, uid,
                                    media_id, frame, context_id, field, old_value, new_value)
            SELECT id, action_id, 'import', NULL, ?1, annotator_id, session_id, ?2, ?3, media_id, frame, 0, field, old_value, new_value
            FROM temp.pleura_import_event ORDER BY id
            """)
        appendStaged.bind(1, now); appendStaged.bind(2, me.user); appendStaged.bind(3, me.uid)
        clearStaged = try SQLiteStatement(db, sql: "DELETE FROM temp.pleura_import_event")
        currentLabels = try SQLiteStatement(db, sql: """
            SELECT field, value FROM current_value
            WHERE media_id = ?1 AND frame = ?2 AND annotator_id = ?3 AND context_id = 0
            """)
        hasLabels = try SQLiteStatement(db, sql: "SELECT EXISTS (SELECT 1 FROM current_value WHERE media_id = ?1)")
    }

    /// The annotator and this import's session for them, created on first use.
    private func who(_ name: String) throws -> (annotator: Annotator, session: StoreSession) {
        if let known = people[name] { return known }
        let role = name == "reference" ? .reference : defaultRole
        let a = try store.ensureAnnotator(db, name: name, role: role, now: now, me: me)
        let s = try store.insertSession(db, annotator: a, name: "import \((file as NSString).lastPathComponent)",
                                        mode: "import", now: now, me: me)
        people[name] = (a, s)
        return (a, s)
    }

    /// Makes the annotator's labels of the item equal to the row: an event per field that differs.
    func add(label row: ImportRows.Label) throws {
        summary.rows += 1
        let media = try resolver.resolve(db, media: row.media, sha256: row.sha256, place: row.place)
        try resolver.check(frame: row.frame, of: media, place: row.place)
        let frame = row.frame ?? -1
        let (a, s) = try who(row.annotator)
        if let first = seenLabels.updateValue(row.place, forKey: LabelKey(mediaID: media.id, frame: frame, annotatorID: a.id)) {
            throw PleuraError(file: file, "\(row.place): duplicate row for the same media, frame and annotator as \(first)")
        }
        for i in old.indices { old[i] = nil }
        // Media without any label yet (a first import) need no current-state reads at all; rows
        // of this import cannot be read back here (the item would be a duplicate).
        let known: Bool
        if let k = mediaHasLabels[media.id] { known = k } else {
            hasLabels.bind(1, media.id)
            var exists = true
            try hasLabels.forEachRow { exists = $0.text(0) != "0" }
            mediaHasLabels[media.id] = exists
            known = exists
        }
        if known {
            currentLabels.bind(1, media.id); currentLabels.bind(2, frame); currentLabels.bind(3, a.id)
            try currentLabels.forEachRow { r in
                if let name = r.text(0), let i = Self.fields.firstIndex(where: { $0.rawValue == name }) { old[i] = r.text(1) }
            }
        }
        let actionID = nextEventID
        stageEvent.bind(2, actionID); stageEvent.bind(3, a.id); stageEvent.bind(4, s.id)
        stageEvent.bind(5, media.id); stageEvent.bind(6, frame)
        for (i, field) in Self.fields.enumerated() {
            let value = row.labels.value(of: field)?.text
            if value == old[i] { continue }
            stageEvent.bind(1, nextEventID); stageEvent.bind(7, field.rawValue)
            stageEvent.bind(8, old[i]); stageEvent.bind(9, value)
            try stageEvent.run()
            nextEventID += 1
            summary.events += 1
            staged += 1
        }
        if staged >= Self.stagedBatch { try appendStagedEvents() }
    }

    /// Appends the staged label events to the log (in id order, through every trigger).
    private func appendStagedEvents() throws {
        guard staged > 0 else { return }
        try appendStaged.run()
        try clearStaged.run()
        staged = 0
    }

    /// Makes the rater's answers on that map of that trial equal to the row.
    func add(rating row: ImportRows.Rating) throws {
        summary.rows += 1
        try appendStagedEvents()   // appendAction numbers its events after the log's last
        let media = try resolver.resolve(db, media: row.media, sha256: row.sha256, place: row.place)
        try resolver.check(frame: row.frame, of: media, place: row.place)
        let p = PendingRating(place: row.place, mediaID: media.id, frame: row.frame ?? -1, annotator: row.annotator,
                              record: row.record)
        let (a, s) = try who(row.annotator)
        // The rating context is the stored key (canonical setting text), so two rows that the
        // store would keep as one rating are duplicates even when their numbers are written apart.
        let contextID = try store.ratingContextID(db, p.map, trial: p.trial, scale: p.scale)
        if let first = seenRatings.updateValue(row.place, forKey: RatingKey(mediaID: media.id, frame: p.frame,
                                                                               annotatorID: a.id, contextID: contextID)) {
            throw PleuraError(file: file, "\(row.place): duplicate rating of the same heatmap as \(first)")
        }
        let appended = try store.appendAction(db, kind: .import, annotator: a, session: s, sha256ByMediaID: [:],
                                              changes: RatingField.allCases.map {
            FieldChange(mediaID: p.mediaID, frame: p.frame, contextID: contextID, field: $0.rawValue, value: p.values[$0] ?? nil)
        }).count
        summary.events += appended
        nextEventID += Int64(appended)
    }

    /// Stores a prediction (one already stored for the same item, model, head and class is kept).
    func add(prediction row: ImportRows.Prediction) throws {
        summary.rows += 1
        let media = try resolver.resolve(db, media: row.media, sha256: row.sha256, place: row.place)
        try resolver.check(frame: row.frame, of: media, place: row.place)
        guard row.probability.isFinite, (0...1).contains(row.probability) else {
            throw PleuraError(file: file, "\(row.place): prediction score \(row.probability) is not a probability (0…1)")
        }
        if let u = row.uncertainty, !u.isFinite || !(0...1).contains(u) {
            throw PleuraError(file: file, "\(row.place): prediction uncertainty \(u) is outside 0…1")
        }
        if insertPrediction == nil {
            insertPrediction = try SQLiteStatement(db, sql: """
                INSERT OR IGNORE INTO prediction (media_id, frame, model_sha256, head, class, probability, uncertainty, created_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                """)
        }
        let insert = insertPrediction!
        insert.bind(1, media.id); insert.bind(2, row.frame ?? -1); insert.bind(3, row.model); insert.bind(4, row.head)
        insert.bind(5, row.className); insert.bind(6, row.probability); insert.bind(7, row.uncertainty); insert.bind(8, now)
        try insert.run()
        summary.predictions += db.changesCount
    }

    /// Appends what is still staged and drops the staging table; the summary of the import.
    func finish() throws -> ImportSummary {
        try appendStagedEvents()
        try db.execute(sql: "DROP TABLE temp.pleura_import_event")
        var out = summary
        out.annotators = people.keys.sorted()
        return out
    }
}

extension AnnotationStore {
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

/// The key two label rows of one import must not share.
struct LabelKey: Hashable {
    var mediaID: Int64
    var frame: Int
    var annotatorID: Int64
}

/// The key two rating rows of one import must not share: the `rating_context` row (heatmap,
/// trial, slot, scale and overlay settings as the store keeps them) of the item and rater.
struct RatingKey: Hashable {
    var mediaID: Int64
    var frame: Int
    var annotatorID: Int64
    var contextID: Int64
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

/// Hands rows from a producer on a second thread to a consumer on the calling thread, in order,
/// in chunks (at most ``capacity`` chunks ahead, so memory stays bounded). Errors keep their
/// order: a producer's error is thrown after every row before it was consumed, and a consumer's
/// error stops the producer. Used by the label CSV import to parse while the store writes.
final class RowPipe<Row: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var chunks: [[Row]] = []
    private var done = false
    private var failure: (any Error)?
    private var cancelled = false
    private static var chunkSize: Int { 2_048 }
    private static var capacity: Int { 4 }

    private struct Cancelled: Error {}

    /// Runs `produce` (calling `put` per row) on a new thread and `consume` per row here.
    static func run(produce: @escaping @Sendable (_ put: (Row) throws -> Void) throws -> Void,
                    consume: (Row) throws -> Void) throws {
        let pipe = RowPipe()
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            var chunk: [Row] = []
            chunk.reserveCapacity(chunkSize)
            do {
                try produce { row in
                    chunk.append(row)
                    if chunk.count >= chunkSize { try pipe.put(chunk); chunk.removeAll(keepingCapacity: true) }
                }
                if !chunk.isEmpty { try pipe.put(chunk) }
                pipe.finish(nil)
            } catch {
                pipe.finish(error is Cancelled ? nil : error)
            }
            finished.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        defer { pipe.cancel(); finished.wait() }
        while let chunk = try pipe.take() {
            for row in chunk { try consume(row) }
        }
    }

    private func put(_ chunk: [Row]) throws {
        condition.lock(); defer { condition.unlock() }
        while chunks.count >= Self.capacity && !cancelled { condition.wait() }
        if cancelled { throw Cancelled() }
        chunks.append(chunk)
        condition.broadcast()
    }

    private func finish(_ error: (any Error)?) {
        condition.lock(); defer { condition.unlock() }
        done = true; failure = error
        condition.broadcast()
    }

    private func cancel() {
        condition.lock(); defer { condition.unlock() }
        cancelled = true
        condition.broadcast()
    }

    /// The next chunk; nil when the producer finished; the producer's error after its rows.
    private func take() throws -> [Row]? {
        condition.lock(); defer { condition.unlock() }
        while chunks.isEmpty && !done { condition.wait() }
        if !chunks.isEmpty {
            let chunk = chunks.removeFirst()
            condition.broadcast()
            return chunk
        }
        if let failure { throw failure }
        return nil
    }
}
