import Foundation
import GRDB
import PleuraCore

/// One class probability of one model head for one item.
///
/// ```swift
/// Prediction(item: ItemRef(mediaSHA256: sha, frame: 3), modelSHA256: model.sha256,
///            head: "severity", className: "2", probability: 0.71)
/// ```
public struct Prediction: Equatable, Sendable {
    public var item: ItemRef
    public var modelSHA256: String
    /// The model card's head name (e.g. `findings`, `severity`, `diagnosis`).
    public var head: String
    public var className: String
    /// 0…1.
    public var probability: Double
    /// How unsure the model is of ``probability`` (0…1: the standard deviation of the class's
    /// probability over MC-dropout samples); nil when the model does not say.
    public var uncertainty: Double?

    public init(item: ItemRef, modelSHA256: String, head: String, className: String, probability: Double,
                uncertainty: Double? = nil) {
        self.item = item; self.modelSHA256 = modelSHA256; self.head = head
        self.className = className; self.probability = probability; self.uncertainty = uncertainty
    }
}

extension AnnotationStore {
    /// Stores predictions in one transaction. A prediction already stored for the same item,
    /// model, head and class is kept as it was (the store never changes what it recorded); the
    /// result counts the rows actually added.
    ///
    /// ```swift
    /// let added = try store.insertPredictions(probabilities.map {
    ///     Prediction(item: item, modelSHA256: modelSHA, head: "findings", className: $0.key, probability: $0.value)
    /// })
    /// ```
    @discardableResult
    public func insertPredictions(_ predictions: [Prediction]) throws -> Int {
        guard !predictions.isEmpty else { return 0 }
        for p in predictions where !(0...1).contains(p.probability) || p.probability.isNaN {
            throw PleuraError(file: path, "probability \(p.probability) of \(p.head)/\(p.className) is outside 0…1")
        }
        for p in predictions {
            if let u = p.uncertainty, !(0...1).contains(u) || u.isNaN {
                throw PleuraError(file: path, "uncertainty \(u) of \(p.head)/\(p.className) is outside 0…1")
            }
        }
        let now = StoreClock.now()
        return try write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO prediction (media_id, frame, model_sha256, head, class, probability, uncertainty, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            var added = 0
            for p in predictions {
                try Self.checkFrame(p.item, path: self.path)
                let mediaID = try self.mediaID(db, sha256: p.item.mediaSHA256)
                try insert.execute(arguments: [mediaID, p.item.frame ?? -1, p.modelSHA256, p.head, p.className, p.probability, p.uncertainty, now])
                added += db.changesCount
            }
            return added
        }
    }

    /// Stored predictions, filtered by any of item, model and head; ordered by media, frame,
    /// model, head, class.
    ///
    /// ```swift
    /// let probs = try store.predictions(item: item, modelSHA256: modelSHA, head: "severity")
    /// ```
    public func predictions(item: ItemRef? = nil, modelSHA256: String? = nil, head: String? = nil) throws -> [Prediction] {
        try read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let item {
                conditions.append("p.media_id = ? AND p.frame = ?")
                arguments += [try self.mediaID(db, sha256: item.mediaSHA256), item.frame ?? -1]
            }
            if let modelSHA256 { conditions.append("p.model_sha256 = ?"); arguments += [modelSHA256] }
            if let head { conditions.append("p.head = ?"); arguments += [head] }
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            return try Row.fetchAll(db, sql: """
                SELECT m.sha256, p.frame, p.model_sha256, p.head, p.class, p.probability, p.uncertainty
                FROM prediction p JOIN media m ON m.id = p.media_id \(whereClause)
                ORDER BY p.media_id, p.frame, p.model_sha256, p.head, p.class
                """, arguments: arguments).map { row in
                let frame: Int = row[1]
                return Prediction(item: ItemRef(mediaSHA256: row[0], frame: frame < 0 ? nil : frame),
                                  modelSHA256: row[2], head: row[3], className: row[4], probability: row[5],
                                  uncertainty: row[6])
            }
        }
    }
}
