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
