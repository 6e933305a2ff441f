import Foundation
import GRDB
import PleuraCore

/// One appended change: who, when, in which session, to which item and field, old → new.
///
/// Values are canonical text (``LabelValue/text``; a rating's `-3`…`3`; a comment); nil means not
/// assessed. Events are never changed or removed; undo appends an event whose `kind` is `.undo`.
public struct LabelEvent: Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// A change made by the annotator.
        case set
        /// A change made by `pleura import`.
        case `import`
        /// Undid the action `reverts`.
        case undo
        /// Redid the action `reverts`.
        case redo
    }

    public var id: Int64
    /// Events committed together by one user action share the id of the first one.
    public var actionID: Int64
    public var kind: Kind
    public var reverts: Int64?
    /// UTC, ISO 8601 with milliseconds.
    public var at: String
    public var annotatorID: Int64
    public var sessionID: Int64
    public var osUser: String
    public var uid: Int
    public var item: ItemRef
    /// 0 for a label; a rating's heatmap context otherwise.
    public var contextID: Int64
    /// A ``LabelField`` raw value, or `rating` / `comment` for ratings.
    public var field: String
    public var oldValue: String?
    public var newValue: String?

    public init(id: Int64, actionID: Int64, kind: Kind, reverts: Int64?, at: String, annotatorID: Int64, sessionID: Int64,
                osUser: String, uid: Int, item: ItemRef, contextID: Int64, field: String, oldValue: String?, newValue: String?) {
        self.id = id; self.actionID = actionID; self.kind = kind; self.reverts = reverts; self.at = at
        self.annotatorID = annotatorID; self.sessionID = sessionID; self.osUser = osUser; self.uid = uid; self.item = item
        self.contextID = contextID; self.field = field; self.oldValue = oldValue; self.newValue = newValue
    }

    /// The label field, when this is a label event.
    public var labelField: LabelField? { contextID == 0 ? LabelField(rawValue: field) : nil }
}

/// The undo and redo stacks of one annotator's session (original action ids, newest last), rebuilt
/// from that session's actions in log order: each backend reads the rows with its own SQL and
/// calls this, so undo and redo mean the same on SQLite and PostgreSQL.
public enum UndoStacks {
    public static func rebuild(_ actions: [(action: Int64, kind: String, reverts: Int64?)]) -> (undo: [Int64], redo: [Int64]) {
        var undo: [Int64] = [], redo: [Int64] = []
        for (action, kind, reverts) in actions {
            switch kind {
            case "undo":
                if let r = reverts, let i = undo.lastIndex(of: r) { undo.remove(at: i); redo.append(r) }
            case "redo":
                if let r = reverts, let i = redo.lastIndex(of: r) { redo.remove(at: i); undo.append(r) }
            default:
                // A new change: it can be undone, and nothing undone before it can be redone.
                undo.append(action); redo.removeAll()
            }
        }
        return (undo, redo)
    }
}

/// One field change to append (internal currency of the event writers).
struct FieldChange {
    var mediaID: Int64
    var frame: Int       // -1: whole video
    var contextID: Int64
    var field: String
    var value: String?
}

extension AnnotationStore {
    /// Appends one action (the events whose value actually changes) inside the caller's write
    /// transaction, and returns the appended events. Old values come from the current state, read
    /// in the same transaction, so concurrent writers never lose each other's changes.
    func appendAction(_ db: Database, kind: LabelEvent.Kind, reverts: Int64? = nil, annotator: Annotator,
                      session: StoreSession, sha256ByMediaID: [Int64: String], changes: [FieldChange]) throws -> [LabelEvent] {
        guard session.annotatorID == annotator.id else {
            throw PleuraError(file: path, "session \(session.id) belongs to another annotator than \(annotator.name)")
        }
        var nextID = (try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) + 1 FROM event")) ?? 1
        let actionID = nextID
        let now = StoreClock.now(), me = OSIdentity.current
        var events: [LabelEvent] = []
        let current = try db.cachedStatement(sql: """
            SELECT value FROM current_value
            WHERE media_id = ? AND frame = ? AND annotator_id = ? AND context_id = ? AND field = ?
            """)
        let insert = try db.cachedStatement(sql: """
            INSERT INTO event (id, action_id, kind, reverts, at, annotator_id, session_id, os_user, uid,
                               media_id, frame, context_id, field, old_value, new_value)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for change in changes {
            let old = try String.fetchOne(current, arguments: [change.mediaID, change.frame, annotator.id,
                                                                change.contextID, change.field])
            if old == change.value { continue }
            try insert.execute(arguments: [nextID, actionID, kind.rawValue, reverts, now, annotator.id, session.id,
                                           me.user, me.uid, change.mediaID, change.frame, change.contextID,
                                           change.field, old, change.value])
            let sha = try sha256ByMediaID[change.mediaID]
                ?? String.fetchOne(db, sql: "SELECT sha256 FROM media WHERE id = ?", arguments: [change.mediaID]) ?? ""
            events.append(LabelEvent(id: nextID, actionID: actionID, kind: kind, reverts: reverts, at: now,
                                     annotatorID: annotator.id, sessionID: session.id, osUser: me.user, uid: me.uid,
                                     item: ItemRef(mediaSHA256: sha, frame: change.frame < 0 ? nil : change.frame),
                                     contextID: change.contextID, field: change.field,
                                     oldValue: old, newValue: change.value))
            nextID += 1
        }
        return events
    }

    // MARK: - Undo / redo

    /// Undoes the newest action of `annotator` in `session` that is not undone yet, by appending
    /// events that set each changed field back to its old value. Returns the appended events
    /// (empty when there is nothing to undo). Covers labels and ratings.
    ///
    /// ```swift
    /// try store.setLabel(item: item, field: .aLines, value: .flag(true), annotator: me, session: s)
    /// try store.undo(annotator: me, session: s)   // a_lines back to not assessed
    /// try store.redo(annotator: me, session: s)   // a_lines present again
    /// ```
    @discardableResult
    public func undo(annotator: Annotator, session: StoreSession) throws -> [LabelEvent] {
        try write { db in
            let stacks = try self.undoStacks(db, annotator: annotator, session: session)
            guard let target = stacks.undo.last else { return [] }
            return try self.replay(db, action: target, backwards: true, kind: .undo, annotator: annotator, session: session)
        }
    }

    /// Redoes the newest undone action of `annotator` in `session` (empty when there is none, or
    /// when a new change was made after the undo).
    @discardableResult
    public func redo(annotator: Annotator, session: StoreSession) throws -> [LabelEvent] {
        try write { db in
            let stacks = try self.undoStacks(db, annotator: annotator, session: session)
            guard let target = stacks.redo.last else { return [] }
            return try self.replay(db, action: target, backwards: false, kind: .redo, annotator: annotator, session: session)
        }
    }

    /// Whether ``undo(annotator:session:)`` / ``redo(annotator:session:)`` would do something.
    public func undoState(annotator: Annotator, session: StoreSession) throws -> (canUndo: Bool, canRedo: Bool) {
        try read { db in
            let s = try self.undoStacks(db, annotator: annotator, session: session)
            return (!s.undo.isEmpty, !s.redo.isEmpty)
        }
    }

    /// Rebuilds the session's undo and redo stacks (of original action ids) from the log.
    private func undoStacks(_ db: Database, annotator: Annotator, session: StoreSession) throws -> (undo: [Int64], redo: [Int64]) {
        let rows = try Row.fetchAll(db, sql: """
            SELECT action_id, kind, reverts FROM event
            WHERE annotator_id = ? AND session_id = ? GROUP BY action_id ORDER BY action_id
            """, arguments: [annotator.id, session.id])
        return UndoStacks.rebuild(rows.map { row -> (action: Int64, kind: String, reverts: Int64?) in (row[0], row[1], row[2]) })
    }

    private func replay(_ db: Database, action: Int64, backwards: Bool, kind: LabelEvent.Kind,
                        annotator: Annotator, session: StoreSession) throws -> [LabelEvent] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT media_id, frame, context_id, field, old_value, new_value FROM event WHERE action_id = ? ORDER BY id
            """, arguments: [action])
        var changes = rows.map { row in
            FieldChange(mediaID: row[0], frame: row[1], contextID: row[2], field: row[3],
                        value: backwards ? row[4] : row[5])
        }
        if backwards { changes.reverse() }
        return try appendAction(db, kind: kind, reverts: action, annotator: annotator, session: session,
                                sha256ByMediaID: [:], changes: changes)
    }

    // MARK: - History

    /// Every event about one item (all annotators), oldest first.
    ///
    /// ```swift
    /// for e in try store.history(item: item) { print(e.at, e.field, e.oldValue ?? "", "→", e.newValue ?? "") }
    /// ```
    public func history(item: ItemRef) throws -> [LabelEvent] {
        try read { db in
            let mediaID = try self.mediaID(db, sha256: item.mediaSHA256)
            return try Row.fetchAll(db, sql: """
                SELECT id, action_id, kind, reverts, at, annotator_id, session_id, os_user, uid, frame, context_id,
                       field, old_value, new_value
                FROM event WHERE media_id = ? AND frame = ? ORDER BY id
                """, arguments: [mediaID, item.frame ?? -1]).map { row in
                let frame: Int = row[9]
                return LabelEvent(id: row[0], actionID: row[1], kind: LabelEvent.Kind(rawValue: row[2]) ?? .set,
                                  reverts: row[3], at: row[4], annotatorID: row[5], sessionID: row[6], osUser: row[7],
                                  uid: row[8], item: ItemRef(mediaSHA256: item.mediaSHA256, frame: frame < 0 ? nil : frame),
                                  contextID: row[10], field: row[11], oldValue: row[12], newValue: row[13])
            }
        }
    }

    /// The number of events in the log.
    public func eventCount() throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM event") ?? 0 }
    }
}
