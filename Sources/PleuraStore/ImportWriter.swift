import Foundation
import GRDB
import PleuraCore

/// Checks import rows against the store and appends them inside the caller's write
/// transaction, one at a time (see ``AnnotationStore/importStreaming(file:root:defaultRole:_:)``).
/// Each row is one action of `import` events in one import session per annotator. Label rows
/// take the fast path: one current-state read per row (none for media without labels yet),
/// event ids counted here instead of queried, and their events appended ``rowsPerInsert`` at a
/// time by one multi-row INSERT.
///
/// Why many rows per statement: SQLite gives every statement that may abort (the protecting
/// triggers, foreign keys) a statement journal, a copy of each page it changes that existed when
/// it began. One INSERT per event copied the few hot pages (the B-trees' right edges) into a
/// fresh journal a million times: a third of the import's CPU in malloc, memcpy and free (perf,
/// issue 15). One statement per 200 events journals those pages 200 times less often and,
/// unlike the earlier staging in a temporary table appended by INSERT … SELECT, writes each
/// event once (−9 % wall, −10 % CPU for the bench's 300,000 rows, five alternating runs; README, Store).
///
/// Why the current state is derived per batch: the two triggers that keep `current_value` row by
/// row (`event_sets_current_value`, and `current_value_is_derived_insert`, which checks each such
/// row against the log) cost more than the events themselves: 11.4 s of SQLite CPU for the bench's
/// 1,000,200 events with them, 6.0 s without them and with one set-based statement per batch
/// instead (Python sqlite3 on the same schema and events, same SQLite 3.40.1). So while label
/// batches are appended the writer drops those two triggers, writes each batch's newest values
/// into `current_value` itself (an import has at most one event per key: duplicate rows are
/// refused), and re-creates the triggers from the SQL the store itself holds before anything else
/// writes an event (ratings, `finish()`). Nothing is weakened: SQLite's DDL is transactional, so
/// no other connection ever sees the store without its triggers (they see the schema of the last
/// commit), a failed or killed import rolls the drop back with everything else, and the triggers
/// that refuse UPDATE and DELETE of the log and of `current_value` stay in place throughout.
/// Someone with write access could always drop triggers with sqlite3; `pleura store verify`
/// checks they are present and recomputes `current_value` from the log.
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
    /// Label events not yet appended, in id order; a full statement's worth is appended at once.
    private var pending: [PendingEvent] = []
    static let rowsPerInsert = 200
    private let appendRows: SQLiteStatement
    /// Makes the events with ids in ?1…?2 (all appended by this import) their keys' current values.
    private let deriveRange: SQLiteStatement
    /// The first event id not yet in `current_value`.
    private var underivedFrom: Int64
    /// The row-by-row derivation triggers as the store holds them (`CREATE TRIGGER …` text), to
    /// re-create them exactly; and whether they are dropped in this transaction just now.
    private let derivationTriggers: [String]
    private var derivationSuspended = false
    static let derivationTriggerNames = ["event_sets_current_value", "current_value_is_derived_insert"]
    /// Events appended but not yet derived; the derivation runs per ``derivedBatch``.
    private var underived = 0
    static let derivedBatch = 10_000
    private let currentLabels: SQLiteStatement
    private let hasLabels: SQLiteStatement
    private var insertPrediction: SQLiteStatement?
    private static let fields = LabelField.allCases
    private var old = [String?](repeating: nil, count: LabelField.allCases.count)

    init(store: AnnotationStore, db: Database, file: String, root: String, defaultRole: AnnotatorRole) throws {
        self.store = store; self.db = db; self.file = file; self.defaultRole = defaultRole
        resolver = MediaResolver(storePath: store.path, root: root, file: file)
        nextEventID = (try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) + 1 FROM event")) ?? 1
        underivedFrom = nextEventID
        pending.reserveCapacity(Self.rowsPerInsert)
        appendRows = try Self.appendStatement(db, rows: Self.rowsPerInsert, now: now, me: me)
        deriveRange = try SQLiteStatement(db, sql: """
            INSERT OR REPLACE INTO main.current_value (media_id, frame, annotator_id, context_id, field, value, event_id)
            SELECT media_id, frame, annotator_id, 0, field, new_value, id FROM main.event WHERE id BETWEEN ?1 AND ?2 ORDER BY id
            """)
        var triggers: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger'") {
            if let name: String = row["name"], let sql: String = row["sql"] { triggers[name] = sql }
        }
        derivationTriggers = try Self.derivationTriggerNames.map { name in
            guard let sql = triggers[name] else {
                throw PleuraError(file: store.path, "the store lacks its trigger \(name), which keeps the current labels: "
                                  + "run `pleura store verify` on it; nothing was imported")
            }
            return sql
        }
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
        for (i, field) in Self.fields.enumerated() {
            let value = row.labels.value(of: field)?.text
            if value == old[i] { continue }
            pending.append(PendingEvent(id: nextEventID, actionID: actionID, annotatorID: a.id, sessionID: s.id,
                                        mediaID: media.id, frame: frame, field: field, old: old[i], new: value))
            nextEventID += 1
            summary.events += 1
            if pending.count == Self.rowsPerInsert { try appendPending() }
        }
    }

    /// The multi-row INSERT of `rows` label events: ?1 time, ?2 OS user, ?3 uid (bound once),
    /// then nine parameters per event (see ``bind(_:to:row:)``).
    private static func appendStatement(_ db: Database, rows: Int, now: String, me: OSIdentity) throws -> SQLiteStatement {
        let values = (0..<rows).map { r in
            let p = 3 + 9 * r
            return "(?\(p + 1), ?\(p + 2), 'import', NULL, ?1, ?\(p + 3), ?\(p + 4), ?2, ?3, ?\(p + 5), ?\(p + 6), 0, ?\(p + 7), ?\(p + 8), ?\(p + 9))"
        }
        let statement = try SQLiteStatement(db, sql: """
            INSERT INTO main.event (id, action_id, kind, reverts, at, annotator_id, session_id, os_user, uid,
                                    media_id, frame, context_id, field, old_value, new_value)
            VALUES \(values.joined(separator: ", "))
            """)
        statement.bind(1, now); statement.bind(2, me.user); statement.bind(3, me.uid)
        return statement
    }

    /// Appends the pending label events to the log in one statement (the derivation triggers
    /// suspended first), and derives the current state once ``derivedBatch`` events are waiting.
    private func appendPending() throws {
        guard !pending.isEmpty else { return }
        if !derivationSuspended {
            for name in Self.derivationTriggerNames { try db.execute(sql: "DROP TRIGGER main.\(name)") }
            derivationSuspended = true
        }
        // A short tail (before ratings, at the end) gets a statement of its own length.
        let insert = pending.count == Self.rowsPerInsert ? appendRows
            : try Self.appendStatement(db, rows: pending.count, now: now, me: me)
        for (r, e) in pending.enumerated() {
            let p = Int32(3 + 9 * r)
            insert.bind(p + 1, e.id); insert.bind(p + 2, e.actionID); insert.bind(p + 3, e.annotatorID)
            insert.bind(p + 4, e.sessionID); insert.bind(p + 5, e.mediaID); insert.bind(p + 6, e.frame)
            insert.bind(p + 7, e.field.rawValue); insert.bind(p + 8, e.old); insert.bind(p + 9, e.new)
        }
        try insert.run()
        underived += pending.count
        pending.removeAll(keepingCapacity: true)
        if underived >= Self.derivedBatch { try deriveAppended() }
    }

    /// Makes the events appended since the last derivation the current values of their keys (an
    /// import has one event per key, so their order does not matter; id order anyway).
    private func deriveAppended() throws {
        guard underived > 0 else { return }
        deriveRange.bind(1, underivedFrom); deriveRange.bind(2, nextEventID - 1)
        try deriveRange.run()
        underivedFrom = nextEventID
        underived = 0
    }

    /// Appends every pending label event and derives the current state of all appended ones.
    private func appendLabelEvents() throws {
        try appendPending()
        try deriveAppended()
    }

    /// Re-creates the derivation triggers exactly as the store held them, before any event that
    /// relies on them is written and before the transaction can commit.
    private func restoreDerivation() throws {
        guard derivationSuspended else { return }
        for sql in derivationTriggers { try db.execute(sql: sql) }
        derivationSuspended = false
    }

    /// Makes the rater's answers on that map of that trial equal to the row.
    func add(rating row: ImportRows.Rating) throws {
        summary.rows += 1
        try appendLabelEvents()    // appendAction numbers its events after the log's last
        try restoreDerivation()    // and relies on the triggers for the current state
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

    /// Appends what is still pending and restores the derivation triggers; the summary of the import.
    func finish() throws -> ImportSummary {
        try appendLabelEvents()
        try restoreDerivation()
        var out = summary
        out.annotators = people.keys.sorted()
        return out
    }
}

/// A label event of the import waiting for its statement (``ImportWriter/rowsPerInsert``).
struct PendingEvent {
    var id: Int64
    var actionID: Int64
    var annotatorID: Int64
    var sessionID: Int64
    var mediaID: Int64
    var frame: Int
    var field: LabelField
    var old: String?
    var new: String?
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
