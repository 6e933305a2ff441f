import Foundation
import GRDB
import PleuraCore

/// The exact picture a rating is about, so it can be reproduced bit for bit: the model's hash,
/// the explanation method, the layer, the target class and the heatmap's own hash.
public struct HeatmapContext: Hashable, Sendable, Codable {
    public var modelSHA256: String
    public var method: String
    public var layer: String
    public var target: String
    public var heatmapSHA256: String

    public init(modelSHA256: String, method: String, layer: String, target: String, heatmapSHA256: String) {
        self.modelSHA256 = modelSHA256; self.method = method; self.layer = layer
        self.target = target; self.heatmapSHA256 = heatmapSHA256
    }
}

/// A current rating: −3…3 and an optional comment, by one annotator, of one heatmap of one item.
public struct CurrentRating: Equatable, Sendable {
    public var item: ItemRef
    public var annotatorID: Int64
    public var context: HeatmapContext
    public var rating: HeatmapRating?
    public var comment: String?
}

extension AnnotationStore {
    /// Records a rating (and comment) of the heatmap described by `context` for `item`, as one
    /// action (one undo step). `rating: nil` withdraws the rating. Returns the appended events
    /// (empty when nothing changed), after commit.
    ///
    /// ```swift
    /// let ctx = HeatmapContext(modelSHA256: modelSHA, method: "gradcam", layer: "features.29",
    ///                          target: "covid", heatmapSHA256: map.sha256)
    /// try store.setRating(item: item, context: ctx, rating: HeatmapRating(rawValue: 2),
    ///                     comment: "highlights the B-lines", annotator: rater, session: s)
    /// ```
    @discardableResult
    public func setRating(item: ItemRef, context: HeatmapContext, rating: HeatmapRating?, comment: String?,
                          annotator: Annotator, session: StoreSession, kind: LabelEvent.Kind = .set) throws -> [LabelEvent] {
        try Self.checkFrame(item, path: path)
        return try write { db in
            let mediaID = try self.mediaID(db, sha256: item.mediaSHA256)
            let contextID = try self.contextID(db, context)
            let frame = item.frame ?? -1
            return try self.appendAction(db, kind: kind, annotator: annotator, session: session,
                                         sha256ByMediaID: [mediaID: item.mediaSHA256], changes: [
                FieldChange(mediaID: mediaID, frame: frame, contextID: contextID, field: "rating",
                            value: rating.map { String($0.rawValue) }),
                FieldChange(mediaID: mediaID, frame: frame, contextID: contextID, field: "comment",
                            value: (comment?.isEmpty ?? true) ? nil : comment),
            ])
        }
    }

    /// The annotator's current rating of that heatmap of that item (nil fields: not rated).
    ///
    /// ```swift
    /// let (rating, comment) = try store.currentRating(item: item, context: ctx, annotator: rater)
    /// ```
    public func currentRating(item: ItemRef, context: HeatmapContext, annotator: Annotator) throws -> (rating: HeatmapRating?, comment: String?) {
        try read { db in
            let mediaID = try self.mediaID(db, sha256: item.mediaSHA256)
            guard let contextID = try Self.existingContextID(db, context) else { return (nil, nil) }
            var rating: HeatmapRating? = nil, comment: String? = nil
            for row in try Row.fetchAll(db, sql: """
                SELECT field, value FROM current_value
                WHERE media_id = ? AND frame = ? AND annotator_id = ? AND context_id = ?
                """, arguments: [mediaID, item.frame ?? -1, annotator.id, contextID]) {
                let field: String = row[0], value: String? = row[1]
                if field == "rating" { rating = value.flatMap { Int($0) }.flatMap { HeatmapRating(rawValue: $0) } }
                if field == "comment" { comment = value }
            }
            return (rating, comment)
        }
    }

    /// Every current rating (rated, or with a comment), ordered by media, frame, annotator, context.
    public func currentRatings() throws -> [CurrentRating] {
        try read { db in
            let contexts = try Self.allContexts(db)
            let shaByID = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT id, sha256 FROM media")
                .map { (row: Row) -> (Int64, String) in (row[0], row[1]) })
            var out: [CurrentRating] = []
            let rows = try Row.fetchCursor(db, sql: """
                SELECT media_id, frame, annotator_id, context_id, field, value FROM current_value
                WHERE context_id != 0 AND value IS NOT NULL
                ORDER BY media_id, frame, annotator_id, context_id
                """)
            while let row = try rows.next() {
                let mediaID: Int64 = row[0], frame: Int = row[1], annotatorID: Int64 = row[2], contextID: Int64 = row[3]
                let field: String = row[4], value: String = row[5]
                let item = ItemRef(mediaSHA256: shaByID[mediaID] ?? "", frame: frame < 0 ? nil : frame)
                guard let context = contexts[contextID] else { continue }
                if out.last.map({ $0.item != item || $0.annotatorID != annotatorID || $0.context != context }) ?? true {
                    out.append(CurrentRating(item: item, annotatorID: annotatorID, context: context, rating: nil, comment: nil))
                }
                if field == "rating" { out[out.count - 1].rating = Int(value).flatMap { HeatmapRating(rawValue: $0) } }
                if field == "comment" { out[out.count - 1].comment = value }
            }
            return out
        }
    }

    // MARK: - Internals

    func contextID(_ db: Database, _ c: HeatmapContext) throws -> Int64 {
        if let id = try Self.existingContextID(db, c) { return id }
        try db.execute(sql: """
            INSERT INTO heatmap_context (model_sha256, method, layer, target, heatmap_sha256) VALUES (?, ?, ?, ?, ?)
            """, arguments: [c.modelSHA256, c.method, c.layer, c.target, c.heatmapSHA256])
        return db.lastInsertedRowID
    }

    static func existingContextID(_ db: Database, _ c: HeatmapContext) throws -> Int64? {
        try Int64.fetchOne(db, sql: """
            SELECT id FROM heatmap_context
            WHERE model_sha256 = ? AND method = ? AND layer = ? AND target = ? AND heatmap_sha256 = ?
            """, arguments: [c.modelSHA256, c.method, c.layer, c.target, c.heatmapSHA256])
    }

    static func allContexts(_ db: Database) throws -> [Int64: HeatmapContext] {
        var out: [Int64: HeatmapContext] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, model_sha256, method, layer, target, heatmap_sha256 FROM heatmap_context") {
            out[row[0]] = HeatmapContext(modelSHA256: row[1], method: row[2], layer: row[3], target: row[4], heatmapSHA256: row[5])
        }
        return out
    }
}
