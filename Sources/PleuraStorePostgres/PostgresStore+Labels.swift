import Foundation
import PleuraCore
import PleuraStore
import PostgresNIO

/// One field change to append.
struct PGChange {
    var mediaID: Int64
    var frame: Int
    var contextID: Int64
    var field: String
    var value: String?
}

/// Labels, ratings outside a trial, undo/redo and history: the SQLite store's rules (Labels.swift,
/// Events.swift), each action one transaction with a client-made request id.
extension PostgresStore {
    @discardableResult
    public func setLabel(item: ItemRef, field: LabelField, value: LabelValue?, annotator: Annotator,
                         session: StoreSession) throws -> LabelEvent? {
        if let value, !value.fits(field) {
            throw PleuraError(file: location, "\(value) is not a value for \(field.rawValue)")
        }
        if case .note(let n)? = value, n.isEmpty {
            return try setLabel(item: item, field: field, value: nil, annotator: annotator, session: session)
        }
        try Self.checkFrame(item, location: location)
        return try action(kind: .set, annotator: annotator, session: session) { link in
            [PGChange(mediaID: try self.mediaID(link, sha256: item.mediaSHA256), frame: item.frame ?? -1, contextID: 0,
                      field: field.rawValue, value: value?.text)]
        }.first
    }

    @discardableResult
    public func setLabels(item: ItemRef, to labels: LabelSet, annotator: Annotator, session: StoreSession,
                          kind: LabelEvent.Kind) throws -> [LabelEvent] {
        try Self.checkFrame(item, location: location)
        return try action(kind: kind, annotator: annotator, session: session) { link in
            let mediaID = try self.mediaID(link, sha256: item.mediaSHA256)
            return LabelField.allCases.map {
                PGChange(mediaID: mediaID, frame: item.frame ?? -1, contextID: 0, field: $0.rawValue, value: labels.value(of: $0)?.text)
            }
        }
    }

    public func currentLabels(item: ItemRef, annotator: Annotator) throws -> LabelSet {
        try read { link in
            let mediaID = try self.mediaID(link, sha256: item.mediaSHA256)
            var labels = LabelSet()
            for row in try link.query("""
                SELECT field, value FROM current_value
                WHERE media_id = $1 AND frame = $2 AND annotator_id = $3 AND context_id = 0
                """, [.int(mediaID), .int(Int64(item.frame ?? -1)), .int(annotator.id)]) {
                Self.apply(field: try row.at(0), text: try row.at(1), to: &labels)
            }
            return labels
        }
    }

    public func currentLabelsByAnnotator(item: ItemRef) throws -> [Int64: LabelSet] {
        try read { link in
            let mediaID = try self.mediaID(link, sha256: item.mediaSHA256)
            var out: [Int64: LabelSet] = [:]
            for row in try link.query("""
                SELECT annotator_id, field, value FROM current_value WHERE media_id = $1 AND frame = $2 AND context_id = 0
                """, [.int(mediaID), .int(Int64(item.frame ?? -1))]) {
                Self.apply(field: try row.at(1), text: try row.at(2), to: &out[try row.at(0, Int64.self), default: LabelSet()])
            }
            return out.filter { !$0.value.isEmpty }
        }
    }

    // MARK: - Ratings outside a trial

    @discardableResult
    public func setRating(item: ItemRef, context: HeatmapContext, rating: HeatmapRating?, comment: String?,
                          annotator: Annotator, session: StoreSession, kind: LabelEvent.Kind) throws -> [LabelEvent] {
        try Self.checkFrame(item, location: location)
        return try action(kind: kind, annotator: annotator, session: session) { link in
            let mediaID = try self.mediaID(link, sha256: item.mediaSHA256)
            let contextID = try Self.plainRatingContext(link, context, create: true)!
            let comment = (comment?.isEmpty ?? true) ? nil : comment
            return [PGChange(mediaID: mediaID, frame: item.frame ?? -1, contextID: contextID, field: "rating",
                             value: rating.map { String($0.rawValue) }),
                    PGChange(mediaID: mediaID, frame: item.frame ?? -1, contextID: contextID, field: "comment", value: comment)]
        }
    }

    public func currentRating(item: ItemRef, context: HeatmapContext, annotator: Annotator) throws -> (rating: HeatmapRating?, comment: String?) {
        try read { link in
            let mediaID = try self.mediaID(link, sha256: item.mediaSHA256)
            guard let contextID = try Self.plainRatingContext(link, context, create: false) else { return (nil, nil) }
            var rating: HeatmapRating?, comment: String?
            for row in try link.query("""
                SELECT field, value FROM current_value
                WHERE media_id = $1 AND frame = $2 AND annotator_id = $3 AND context_id = $4
                """, [.int(mediaID), .int(Int64(item.frame ?? -1)), .int(annotator.id), .int(contextID)]) {
                let field: String = try row.at(0), value: String? = try row.at(1)
                if field == "rating" { rating = value.flatMap(Int.init).flatMap(HeatmapRating.init(rawValue:)) }
                if field == "comment" { comment = value }
            }
            return (rating, comment)
        }
    }

    /// The `rating_context` id of a heatmap rated outside a trial (no trial, slot or overlay,
    /// scale seven), created with its `heatmap_context` when `create` (ids as the SQLite store's:
    /// heatmap contexts count up from 1, rating contexts down from -1).
    static func plainRatingContext(_ link: PostgresLink, _ c: HeatmapContext, create: Bool) throws -> Int64? {
        let key: [PGArg] = [.text(c.modelSHA256), .text(c.method), .text(c.layer), .text(c.target), .text(c.heatmapSHA256)]
        var heatmapID = try link.query("""
            SELECT id FROM heatmap_context WHERE model_sha256 = $1 AND method = $2 AND layer = $3 AND target = $4 AND heatmap_sha256 = $5
            """, key).first?.at(0, Int64.self)
        if heatmapID == nil {
            guard create else { return nil }
            heatmapID = try link.query("""
                INSERT INTO heatmap_context (id, model_sha256, method, layer, target, heatmap_sha256)
                VALUES ((SELECT coalesce(max(id), 0) + 1 FROM heatmap_context), $1, $2, $3, $4, $5) RETURNING id
                """, key)[0].at(0, Int64.self)
        }
        if let id = try link.query("""
            SELECT id FROM rating_context WHERE heatmap_context_id = $1 AND trial = '' AND slot = '' AND scale = 'seven'
            AND colormap = '' AND opacity = '' AND threshold = ''
            """, [.int(heatmapID)]).first?.at(0, Int64.self) { return id }
        guard create else { return nil }
        return try link.query("""
            INSERT INTO rating_context (id, heatmap_context_id, trial, slot, scale, colormap, opacity, threshold)
            VALUES ((SELECT coalesce(min(id), 0) - 1 FROM rating_context), $1, '', '', 'seven', '', '', '') RETURNING id
            """, [.int(heatmapID)])[0].at(0, Int64.self)
    }

    // MARK: - Undo / redo

    @discardableResult
    public func undo(annotator: Annotator, session: StoreSession) throws -> [LabelEvent] {
        try replay(backwards: true, annotator: annotator, session: session)
    }

    @discardableResult
    public func redo(annotator: Annotator, session: StoreSession) throws -> [LabelEvent] {
        try replay(backwards: false, annotator: annotator, session: session)
    }

    public func undoState(annotator: Annotator, session: StoreSession) throws -> (canUndo: Bool, canRedo: Bool) {
        try read { link in
            let s = try Self.undoStacks(link, annotator: annotator, session: session)
            return (!s.undo.isEmpty, !s.redo.isEmpty)
        }
    }

    private func replay(backwards: Bool, annotator: Annotator, session: StoreSession) throws -> [LabelEvent] {
        try revertingAction(kind: backwards ? .undo : .redo, annotator: annotator, session: session) { link in
            let stacks = try Self.undoStacks(link, annotator: annotator, session: session)
            guard let target = backwards ? stacks.undo.last : stacks.redo.last else { return nil }
            var changes = try link.query("""
                SELECT media_id, frame, context_id, field, old_value, new_value FROM event WHERE action_id = $1 ORDER BY id
                """, [.int(target)]).map { row in
                PGChange(mediaID: try row.at(0), frame: Int(try row.at(1, Int64.self)), contextID: try row.at(2),
                         field: try row.at(3), value: try row.at(backwards ? 4 : 5))
            }
            if backwards { changes.reverse() }
            return (reverts: Optional(target), changes: changes)
        }
    }

    /// The session's undo and redo stacks (original action ids), rebuilt from the log.
    static func undoStacks(_ link: PostgresLink, annotator: Annotator, session: StoreSession) throws -> (undo: [Int64], redo: [Int64]) {
        let actions = try link.query("""
            SELECT action_id, min(kind), min(reverts) FROM event
            WHERE annotator_id = $1 AND session_id = $2 GROUP BY action_id ORDER BY action_id
            """, [.int(annotator.id), .int(session.id)]).map { row -> (action: Int64, kind: String, reverts: Int64?) in
            (try row.at(0), try row.at(1), try row.at(2))
        }
        return UndoStacks.rebuild(actions)
    }

    // MARK: - History and checks

    public func history(item: ItemRef) throws -> [LabelEvent] {
        try read { link in
            let mediaID = try self.mediaID(link, sha256: item.mediaSHA256)
            return try Self.events(link, where: "e.media_id = $1 AND e.frame = $2", [.int(mediaID), .int(Int64(item.frame ?? -1))])
        }
    }

    public func eventCount() throws -> Int {
        try read { link in try link.query("SELECT count(*) FROM event")[0].at(0, Int.self) }
    }

    public func verifyCurrentState() throws -> Int {
        try read { link in
            try link.query("""
                WITH newest AS (
                    SELECT media_id, frame, annotator_id, context_id, field, max(id) AS id
                    FROM event GROUP BY media_id, frame, annotator_id, context_id, field)
                SELECT
                  (SELECT count(*) FROM newest JOIN event e ON e.id = newest.id
                     LEFT JOIN current_value c ON c.media_id = e.media_id AND c.frame = e.frame
                       AND c.annotator_id = e.annotator_id AND c.context_id = e.context_id AND c.field = e.field
                     WHERE c.event_id IS DISTINCT FROM e.id OR c.value IS DISTINCT FROM e.new_value)
                + abs((SELECT count(*) FROM newest) - (SELECT count(*) FROM current_value))
                """)[0].at(0, Int.self)
        }
    }

    // MARK: - Appending an action

    /// One user action: `changes` (computed inside the transaction) become events for the fields
    /// whose value differs from the current one, with one request id. Retried after a lost
    /// connection, the request id finds the events of a commit that did happen.
    func action(kind: LabelEvent.Kind, annotator: Annotator, session: StoreSession,
                _ changes: @escaping (PostgresLink) throws -> [PGChange]) throws -> [LabelEvent] {
        try revertingAction(kind: kind, annotator: annotator, session: session) { link in (reverts: nil, changes: try changes(link)) }
    }

    func revertingAction(kind: LabelEvent.Kind, annotator: Annotator, session: StoreSession, request: UUID = UUID(),
                _ changes: @escaping (PostgresLink) throws -> (reverts: Int64?, changes: [PGChange])?) throws -> [LabelEvent] {
        guard session.annotatorID == annotator.id else {
            throw PleuraError(file: location, "session \(session.id) belongs to another annotator than \(annotator.name)")
        }
        return try write(request: request, done: { link in
            try Self.events(link, where: "e.request_id = $1", [.uuid(request)])
        }) { link in
            guard let plan = try changes(link) else { return [] }
            return try self.append(link, request: request, kind: kind, reverts: plan.reverts, annotator: annotator,
                                   session: session, changes: plan.changes)
        }
    }

    private func append(_ link: PostgresLink, request: UUID, kind: LabelEvent.Kind, reverts: Int64?, annotator: Annotator,
                        session: StoreSession, changes: [PGChange]) throws -> [LabelEvent] {
        var nextID = try link.query("SELECT pleura_next_event_id()")[0].at(0, Int64.self)
        let actionID = nextID, now = StoreClock.now(), me = OSIdentity.current
        var events: [LabelEvent] = []
        var shas: [Int64: String] = [:]
        for change in changes {
            let old = try link.query("""
                SELECT value FROM current_value
                WHERE media_id = $1 AND frame = $2 AND annotator_id = $3 AND context_id = $4 AND field = $5
                """, [.int(change.mediaID), .int(Int64(change.frame)), .int(annotator.id), .int(change.contextID),
                      .text(change.field)]).first?.at(0, String?.self) ?? nil
            if old == change.value { continue }
            if events.isEmpty {
                try link.query("INSERT INTO write_request (id, action_id, at) VALUES ($1, $2, $3)",
                               [.uuid(request), .int(actionID), .text(now)])
            }
            try link.query("""
                INSERT INTO event (id, action_id, kind, reverts, at, annotator_id, session_id, os_user, uid,
                                   media_id, frame, context_id, field, old_value, new_value, request_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                """, [.int(nextID), .int(actionID), .text(kind.rawValue), .int(reverts), .text(now), .int(annotator.id),
                      .int(session.id), .text(me.user), .int(Int64(me.uid)), .int(change.mediaID),
                      .int(Int64(change.frame)), .int(change.contextID), .text(change.field), .text(old),
                      .text(change.value), .uuid(request)])
            if shas[change.mediaID] == nil {
                shas[change.mediaID] = try link.query("SELECT sha256 FROM media WHERE id = $1", [.int(change.mediaID)])[0].at(0)
            }
            events.append(LabelEvent(id: nextID, actionID: actionID, kind: kind, reverts: reverts, at: now,
                                     annotatorID: annotator.id, sessionID: session.id, osUser: me.user, uid: me.uid,
                                     item: ItemRef(mediaSHA256: shas[change.mediaID]!, frame: change.frame < 0 ? nil : change.frame),
                                     contextID: change.contextID, field: change.field, oldValue: old, newValue: change.value))
            nextID += 1
        }
        return events
    }

    /// Events matching `condition` (on `event e`), oldest first.
    static func events(_ link: PostgresLink, where condition: String, _ args: [PGArg]) throws -> [LabelEvent] {
        try link.query("""
            SELECT e.id, e.action_id, e.kind, e.reverts, e.at, e.annotator_id, e.session_id, e.os_user, e.uid, m.sha256,
                   e.frame, e.context_id, e.field, e.old_value, e.new_value
            FROM event e JOIN media m ON m.id = e.media_id WHERE \(condition) ORDER BY e.id
            """, args).map { row in
            let frame = Int(try row.at(10, Int64.self))
            return LabelEvent(id: try row.at(0), actionID: try row.at(1),
                              kind: LabelEvent.Kind(rawValue: try row.at(2, String.self)) ?? .set, reverts: try row.at(3),
                              at: try row.at(4), annotatorID: try row.at(5), sessionID: try row.at(6), osUser: try row.at(7),
                              uid: Int(try row.at(8, Int64.self)),
                              item: ItemRef(mediaSHA256: try row.at(9), frame: frame < 0 ? nil : frame),
                              contextID: try row.at(11), field: try row.at(12), oldValue: try row.at(13), newValue: try row.at(14))
        }
    }

    static func checkFrame(_ item: ItemRef, location: String) throws {
        if let f = item.frame, f < 0 { throw PleuraError(file: location, "frame \(f) is negative (frames count from 0)") }
    }

    /// A stored value applied to a label set (unknown fields and malformed values ignored, as in SQLite).
    static func apply(field: String, text: String?, to labels: inout LabelSet) {
        guard let f = LabelField(rawValue: field) else { return }
        guard let text else { labels.set(f, to: nil); return }
        if let v = try? LabelValue(field: f, text: text) { labels.set(f, to: v) }
    }
}
