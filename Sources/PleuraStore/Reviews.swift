import Foundation
import GRDB
import PleuraCore

/// A trainee's review of a disagreement: the two answers shown (e.g. the model and a clinician),
/// the trainee's own answer, which answer they side with, and a comment.
///
/// ```swift
/// let r = Review(item: item, field: "severity", firstSource: "model", firstValue: "3",
///                secondSource: "alice", secondValue: "1", ownValue: "2", verdict: .neither,
///                comment: "consolidation is small", heatmapSHA256: map.sha256)
/// try store.addReview(r, annotator: trainee, session: s)
/// ```
public struct Review: Equatable, Sendable {
    public enum Verdict: String, CaseIterable, Sendable {
        case first, second, both, neither, unsure
    }

    public var id: Int64?
    public var at: String?
    public var annotatorID: Int64?
    public var item: ItemRef
    /// The label field disagreed on (a ``LabelField`` raw value or another name, e.g. `diagnosis`).
    public var field: String
    public var firstSource: String
    public var firstValue: String?
    public var secondSource: String
    public var secondValue: String?
    public var ownValue: String?
    public var verdict: Verdict
    public var comment: String?
    public var heatmapSHA256: String?

    public init(item: ItemRef, field: String, firstSource: String, firstValue: String?, secondSource: String,
                secondValue: String?, ownValue: String? = nil, verdict: Verdict, comment: String? = nil,
                heatmapSHA256: String? = nil) {
        self.item = item; self.field = field; self.firstSource = firstSource; self.firstValue = firstValue
        self.secondSource = secondSource; self.secondValue = secondValue; self.ownValue = ownValue
        self.verdict = verdict; self.comment = comment; self.heatmapSHA256 = heatmapSHA256
    }
}

extension AnnotationStore {
    /// Appends a review (committed before returning) and returns it with its id and time.
    @discardableResult
    public func addReview(_ review: Review, annotator: Annotator, session: StoreSession) throws -> Review {
        try addReviews([review], annotator: annotator, session: session)[0]
    }

    /// Appends reviews in one transaction (committed before returning: a trainee's answer on
    /// several fields is saved whole or not at all) and returns them with their ids and time.
    @discardableResult
    public func addReviews(_ reviews: [Review], annotator: Annotator, session: StoreSession) throws -> [Review] {
        for review in reviews { try Self.checkFrame(review.item, path: path) }
        let now = StoreClock.now(), me = OSIdentity.current
        return try write { db in
            try reviews.map { review in
                let mediaID = try self.mediaID(db, sha256: review.item.mediaSHA256)
                try db.execute(sql: """
                    INSERT INTO review (at, annotator_id, session_id, os_user, uid, media_id, frame, field, first_source,
                                        first_value, second_source, second_value, own_value, verdict, comment, heatmap_sha256)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [now, annotator.id, session.id, me.user, me.uid, mediaID, review.item.frame ?? -1,
                                     review.field, review.firstSource, review.firstValue, review.secondSource,
                                     review.secondValue, review.ownValue, review.verdict.rawValue, review.comment,
                                     review.heatmapSHA256])
                var stored = review
                stored.id = db.lastInsertedRowID
                stored.at = now
                stored.annotatorID = annotator.id
                return stored
            }
        }
    }

    /// Every review, oldest first (optionally of one item only).
    public func reviews(item: ItemRef? = nil) throws -> [Review] {
        try read { db in
            var sql = """
                SELECT r.id, r.at, r.annotator_id, m.sha256, r.frame, r.field, r.first_source, r.first_value,
                       r.second_source, r.second_value, r.own_value, r.verdict, r.comment, r.heatmap_sha256
                FROM review r JOIN media m ON m.id = r.media_id
                """
            var arguments: StatementArguments = []
            if let item {
                sql += " WHERE r.media_id = ? AND r.frame = ?"
                arguments = [try self.mediaID(db, sha256: item.mediaSHA256), item.frame ?? -1]
            }
            sql += " ORDER BY r.id"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                let frame: Int = row[4]
                var r = Review(item: ItemRef(mediaSHA256: row[3], frame: frame < 0 ? nil : frame), field: row[5],
                               firstSource: row[6], firstValue: row[7], secondSource: row[8], secondValue: row[9],
                               ownValue: row[10], verdict: Review.Verdict(rawValue: row[11]) ?? .unsure,
                               comment: row[12], heatmapSHA256: row[13])
                r.id = row[0]; r.at = row[1]; r.annotatorID = row[2]
                return r
            }
        }
    }
}
