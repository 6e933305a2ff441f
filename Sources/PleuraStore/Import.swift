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

/// One label row ready to apply: where it came from, the media row, the labels.
struct PendingLabel {
    var line: Int
    var mediaID: Int64
    var frame: Int
    var annotator: String
    var labels: LabelSet
}

/// One rating row ready to apply: one map of one trial, every answer field (nil clears it).
struct PendingRating {
    var line: Int
    var mediaID: Int64
    var frame: Int
    var annotator: String
    var trial: String
    var scale: RatingScale
    var map: RatedMap
    var values: [RatingField: String?]

    init(line: Int, mediaID: Int64, frame: Int, annotator: String, record r: RatingRecord) {
        self.line = line; self.mediaID = mediaID; self.frame = frame; self.annotator = annotator
        trial = r.trial; scale = r.scale
        map = RatedMap(heatmap: HeatmapContext(modelSHA256: r.model, method: r.method, layer: r.layer, target: r.target,
                                               heatmapSHA256: r.heatmapSHA256), overlay: r.overlay, slot: r.slot)
        values = [.rating: r.rating.map { String($0.rawValue) }, .comment: AnnotationStore.nonEmpty(r.comment),
                  .highlighted: r.highlighted.map(RatingPattern.text(of:)), .classGuess: AnnotationStore.nonEmpty(r.classGuess),
                  .visible: r.visible.map(RatingPattern.text(of:)), .better: r.better?.rawValue,
                  .seconds: r.seconds.map(AnnotationStore.secondsText)]
    }
}

/// Maps the media named in an import file to registered media rows: by sha256 when the file
/// gives one, else by path (relative to `root`): first the path registered, then the content
/// hash of the file found there (a moved file keeps its labels).
struct MediaResolver {
    let store: AnnotationStore
    let root: String
    let file: String
    private var byKey: [String: Int64] = [:]

    init(store: AnnotationStore, root: String, file: String) {
        self.store = store
        self.root = URL(fileURLWithPath: root).standardizedFileURL.path
        self.file = file
    }

    func absolute(_ media: String) -> String {
        media.hasPrefix("/") ? URL(fileURLWithPath: media).standardizedFileURL.path
            : URL(fileURLWithPath: root).appendingPathComponent(media).standardizedFileURL.path
    }

    mutating func resolve(media: String, sha256: String?, line: Int) throws -> Int64 {
        let key = (sha256 ?? "") + "|" + media
        if let id = byKey[key] { return id }
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
            throw PleuraError(file: file, "line \(line): unknown media '\(media)' (looked for \(path)): register it first with `pleura add FILE --store \(store.path)`, or give --root")
        }
        byKey[key] = record.id
        return record.id
    }
}

extension AnnotationStore {
    /// Imports a canonical label CSV (design.md). All or nothing: a malformed row, unknown media
    /// or a duplicate row throws a ``PleuraError`` naming the file and line, and nothing from the
    /// file is recorded. Each row makes that annotator's labels of that item equal to the row
    /// (empty cells clear); unchanged fields append nothing, so importing twice is harmless.
    /// `as` replaces the annotator column. Media paths are relative to `root`.
    ///
    /// ```swift
    /// let summary = try store.importLabelCSV(text: try String(contentsOfFile: f, encoding: .utf8),
    ///                                        file: f, root: "/data")
    /// print("\(summary.rows) rows, \(summary.events) changes")
    /// ```
    @discardableResult
    public func importLabelCSV(text: String, file: String, root: String, as annotatorName: String? = nil) throws -> ImportSummary {
        let records = try LabelRecord.parseFile(text, file: file)
        var resolver = MediaResolver(store: self, root: root, file: file)
        // Lines of data rows: parseFile keeps order; recover each record's line for errors.
        let lines = try CSV.parse(text, file: file).dropFirst().map(\.line)
        var pending: [PendingLabel] = []
        pending.reserveCapacity(records.count)
        for (record, line) in zip(records, lines) {
            let mediaID = try resolver.resolve(media: record.media, sha256: nil, line: line)
            pending.append(PendingLabel(line: line, mediaID: mediaID, frame: record.frame ?? -1,
                                        annotator: annotatorName ?? record.annotator, labels: record.labels))
        }
        return try applyImport(file: file, labels: pending, ratings: [], defaultRole: .labeller)
    }

    /// Imports a canonical rating CSV (or the older eight-column one, whose missing columns read
    /// as empty), all or nothing like ``importLabelCSV(text:file:root:as:)``. Each row makes that
    /// rater's answers on that map of that trial equal to the row.
    @discardableResult
    public func importRatingCSV(text: String, file: String, root: String, as annotatorName: String? = nil) throws -> ImportSummary {
        let records = try RatingRecord.parseFile(text, file: file)
        var resolver = MediaResolver(store: self, root: root, file: file)
        let lines = try CSV.parse(text, file: file).dropFirst().map(\.line)
        var pending: [PendingRating] = []
        for (r, line) in zip(records, lines) {
            let mediaID = try resolver.resolve(media: r.media, sha256: nil, line: line)
            pending.append(PendingRating(line: line, mediaID: mediaID, frame: r.frame ?? -1,
                                         annotator: annotatorName ?? r.annotator, record: r))
        }
        return try applyImport(file: file, labels: [], ratings: pending, defaultRole: .rater)
    }

    /// Applies parsed rows in one write transaction (all or nothing), appending `import` events
    /// in one import session per annotator.
    func applyImport(file: String, labels: [PendingLabel], ratings: [PendingRating], predictions: [Prediction] = [],
                     predictionMediaIDs: [Int64] = [], defaultRole: AnnotatorRole,
                     roleOverride: AnnotatorRole? = nil) throws -> ImportSummary {
        // Duplicates would make the result depend on row order: refuse them, naming both lines.
        var seenLabels: [String: Int] = [:]
        for p in labels {
            let key = "\(p.mediaID)|\(p.frame)|\(p.annotator)"
            if let first = seenLabels[key] {
                throw PleuraError(file: file, "line \(p.line): duplicate row for the same media, frame and annotator as line \(first)")
            }
            seenLabels[key] = p.line
        }
        var seenRatings: [String: Int] = [:]
        for p in ratings {
            let c = p.map.heatmap
            let key = "\(p.mediaID)|\(p.frame)|\(p.annotator)|\(c.modelSHA256)|\(c.method)|\(c.layer)|\(c.target)|\(c.heatmapSHA256)|\(p.trial)|\(p.map.slot?.rawValue ?? "")|\(p.scale)|\(String(describing: p.map.overlay))"
            if let first = seenRatings[key] {
                throw PleuraError(file: file, "line \(p.line): duplicate rating of the same heatmap as line \(first)")
            }
            seenRatings[key] = p.line
        }
        let now = StoreClock.now(), me = OSIdentity.current
        return try write { db in
            var summary = ImportSummary()
            summary.rows = labels.count + ratings.count
            var annotators: [String: Annotator] = [:]
            var sessions: [String: StoreSession] = [:]
            func who(_ name: String, _ line: Int) throws -> (Annotator, StoreSession) {
                if let a = annotators[name], let s = sessions[name] { return (a, s) }
                let role = roleOverride ?? (name == "reference" ? .reference : defaultRole)
                let a = try self.ensureAnnotator(db, name: name, role: role, now: now, me: me)
                let s = try self.insertSession(db, annotator: a, name: "import \((file as NSString).lastPathComponent)", mode: "import", now: now, me: me)
                annotators[name] = a; sessions[name] = s
                return (a, s)
            }
            for p in labels {
                let (a, s) = try who(p.annotator, p.line)
                summary.events += try self.appendAction(db, kind: .import, annotator: a, session: s, sha256ByMediaID: [:],
                                                        changes: Self.changes(mediaID: p.mediaID, frame: p.frame, labels: p.labels)).count
            }
            for p in ratings {
                let (a, s) = try who(p.annotator, p.line)
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
                for (p, mediaID) in zip(predictions, predictionMediaIDs) {
                    try insert.execute(arguments: [mediaID, p.item.frame ?? -1, p.modelSHA256, p.head, p.className, p.probability, now])
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
