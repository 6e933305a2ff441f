import Foundation
import GRDB
import PleuraCore

/// The current labels of one item by one annotator (a row of the canonical label CSV, by hash).
public struct CurrentLabels: Equatable, Sendable {
    public var item: ItemRef
    public var annotatorID: Int64
    public var labels: LabelSet
}

extension AnnotationStore {
    /// Sets one label field of an item for an annotator (nil: not assessed) and returns the
    /// appended event once it is committed. Returns nil, appending nothing, when the field already
    /// has that value.
    ///
    /// ```swift
    /// let item = ItemRef(mediaSHA256: sha, frame: 41)
    /// try store.setLabel(item: item, field: .b1Lines, value: .flag(true), annotator: me, session: s)
    /// try store.setLabel(item: item, field: .severity, value: .severity(Severity(rawValue: 1)!), annotator: me, session: s)
    /// try store.setLabel(item: item, field: .note, value: nil, annotator: me, session: s)   // clear
    /// ```
    @discardableResult
    public func setLabel(item: ItemRef, field: LabelField, value: LabelValue?, annotator: Annotator,
                         session: StoreSession) throws -> LabelEvent? {
        if let value, !value.fits(field) {
            throw PleuraError(file: path, "\(value) is not a value for \(field.rawValue)")
        }
        if case .note(let n)? = value, n.isEmpty { return try setLabel(item: item, field: field, value: nil, annotator: annotator, session: session) }
        try Self.checkFrame(item, path: path)
        return try write { db in
            let mediaID = try self.mediaID(db, sha256: item.mediaSHA256)
            return try self.appendAction(db, kind: .set, annotator: annotator, session: session,
                                         sha256ByMediaID: [mediaID: item.mediaSHA256],
                                         changes: [FieldChange(mediaID: mediaID, frame: item.frame ?? -1, contextID: 0,
                                                               field: field.rawValue, value: value?.text)]).first
        }
    }

    /// Makes the annotator's labels of an item equal to `labels` in one action (one undo step):
    /// fields that differ get an event, fields not assessed in `labels` are cleared.
    ///
    /// ```swift
    /// var l = LabelSet(); l[.aLines] = true; l.severity = Severity(rawValue: 0)
    /// try store.setLabels(item: item, to: l, annotator: me, session: s)
    /// ```
    @discardableResult
    public func setLabels(item: ItemRef, to labels: LabelSet, annotator: Annotator, session: StoreSession,
                          kind: LabelEvent.Kind = .set) throws -> [LabelEvent] {
        try Self.checkFrame(item, path: path)
        return try write { db in
            let mediaID = try self.mediaID(db, sha256: item.mediaSHA256)
            return try self.appendAction(db, kind: kind, annotator: annotator, session: session,
                                         sha256ByMediaID: [mediaID: item.mediaSHA256],
                                         changes: Self.changes(mediaID: mediaID, frame: item.frame ?? -1, labels: labels))
        }
    }

    /// The annotator's current labels of one item (empty when nothing was assessed).
    ///
    /// ```swift
    /// let labels = try store.currentLabels(item: item, annotator: me)
    /// labels[.b1Lines]   // true / false / nil (not assessed)
    /// ```
    public func currentLabels(item: ItemRef, annotator: Annotator) throws -> LabelSet {
        try read { db in
            let mediaID = try self.mediaID(db, sha256: item.mediaSHA256)
            let statement = try db.cachedStatement(sql: """
                SELECT field, value FROM current_value
                WHERE media_id = ? AND frame = ? AND annotator_id = ? AND context_id = 0
                """)
            var labels = LabelSet()
            let rows = try Row.fetchCursor(statement, arguments: [mediaID, item.frame ?? -1, annotator.id])
            while let row = try rows.next() {
                Self.apply(field: row[0], text: row[1], to: &labels)
            }
            return labels
        }
    }

    /// One annotator's current labels of every item of one medium, keyed by frame (-1: the whole
    /// video); only non-empty sets.
    ///
    /// ```swift
    /// let byFrame = try store.currentLabelsByFrame(mediaSHA256: sha, annotator: reference)
    /// byFrame[-1]?.severity      // the video-level score, if given
    /// ```
    public func currentLabelsByFrame(mediaSHA256: String, annotator: Annotator) throws -> [Int: LabelSet] {
        try read { db in
            guard let mediaID = try Int64.fetchOne(db, sql: "SELECT id FROM media WHERE sha256 = ?", arguments: [mediaSHA256]) else { return [:] }
            var out: [Int: LabelSet] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT frame, field, value FROM current_value
                WHERE media_id = ? AND annotator_id = ? AND context_id = 0 AND value IS NOT NULL
                """, arguments: [mediaID, annotator.id])
            while let row = try rows.next() {
                Self.apply(field: row[1], text: row[2], to: &out[row[0], default: LabelSet()])
            }
            return out.filter { !$0.value.isEmpty }
        }
    }

    /// Current labels of every annotator for one item, keyed by annotator id.
    public func currentLabelsByAnnotator(item: ItemRef) throws -> [Int64: LabelSet] {
        try read { db in
            let mediaID = try self.mediaID(db, sha256: item.mediaSHA256)
            var out: [Int64: LabelSet] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT annotator_id, field, value FROM current_value
                WHERE media_id = ? AND frame = ? AND context_id = 0
                """, arguments: [mediaID, item.frame ?? -1])
            while let row = try rows.next() {
                Self.apply(field: row[1], text: row[2], to: &out[row[0], default: LabelSet()])
            }
            return out.filter { !$0.value.isEmpty }
        }
    }

    /// Streams every non-empty current label set, ordered by media id, frame (whole video first)
    /// and annotator id. `level` restricts to frame-level or video-level items.
    ///
    /// ```swift
    /// try store.forEachCurrentLabels { media, frame, annotatorID, labels in … }
    /// ```
    public func forEachCurrentLabels(level: ItemLevel? = nil,
                                     _ body: (_ mediaID: Int64, _ frame: Int?, _ annotatorID: Int64, _ labels: LabelSet) throws -> Void) throws {
        try read { db in
            let filter: String
            switch level {
            case nil: filter = ""
            case .frame?: filter = "AND frame >= 0"
            case .video?: filter = "AND frame = -1"
            }
            let rows = try Row.fetchCursor(db, sql: """
                SELECT media_id, frame, annotator_id, field, value FROM current_value
                WHERE context_id = 0 AND value IS NOT NULL \(filter)
                ORDER BY media_id, frame, annotator_id
                """)
            var key: (Int64, Int, Int64)? = nil
            var labels = LabelSet()
            while let row = try rows.next() {
                let k: (Int64, Int, Int64) = (row[0], row[1], row[2])
                if let prev = key, prev != k {
                    if !labels.isEmpty { try body(prev.0, prev.1 < 0 ? nil : prev.1, prev.2, labels) }
                    labels = LabelSet()
                }
                key = k
                Self.apply(field: row[3], text: row[4], to: &labels)
            }
            if let prev = key, !labels.isEmpty { try body(prev.0, prev.1 < 0 ? nil : prev.1, prev.2, labels) }
        }
    }

    // MARK: - Internals

    static func checkFrame(_ item: ItemRef, path: String) throws {
        if let f = item.frame, f < 0 { throw PleuraError(file: path, "frame \(f) is negative (frames count from 0)") }
    }

    static func changes(mediaID: Int64, frame: Int, labels: LabelSet) -> [FieldChange] {
        LabelField.allCases.map { field in
            FieldChange(mediaID: mediaID, frame: frame, contextID: 0, field: field.rawValue, value: labels.value(of: field)?.text)
        }
    }

    /// Applies a stored value to a label set; unknown fields and malformed values are ignored
    /// (they cannot be written through the API).
    @inline(__always)
    static func apply(field: String, text: String?, to labels: inout LabelSet) {
        guard let f = LabelField(rawValue: field) else { return }
        guard let text else { labels.set(f, to: nil); return }
        if let v = try? LabelValue(field: f, text: text) { labels.set(f, to: v) }
    }
}

/// Frame-level items (a frame of a clip) or video-level items (the whole clip).
public enum ItemLevel: String, Sendable, CaseIterable {
    case frame, video
}
