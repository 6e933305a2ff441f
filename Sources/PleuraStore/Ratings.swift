import Foundation
import GRDB
import PleuraCore

/// The exact picture a rating is about, so it can be reproduced bit for bit: the model's hash,
/// the explanation method, the layer, the target class and the heatmap's own hash.
///
/// `target` is the class the map explains, written `head/class` as `pleura infer` stores it
/// (e.g. `diagnosis/covid`). For a whole-clip item, `heatmapSHA256` is
/// ``HeatmapContext/clipSHA256(frameMaps:)`` of the per-frame maps that were played.
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

    /// The heatmap hash of a whole clip rated with its per-frame maps: the SHA-256 of one line
    /// `FRAME SHA256\n` per frame played (display order), each SHA256 a ``HeatmapRecord/sha256``.
    ///
    /// ```swift
    /// let sha = HeatmapContext.clipSHA256(frameMaps: maps.enumerated().map { ($0.offset, $0.element.sha256) })
    /// ```
    public static func clipSHA256(frameMaps: [(frame: Int, sha256: String)]) -> String {
        SHA256.hex(of: Array(frameMaps.map { "\($0.frame) \($0.sha256)\n" }.joined().utf8))
    }
}

/// One map of a trial as the rater saw it: which heatmap, how it was drawn, in which slot.
public struct RatedMap: Hashable, Sendable {
    public var heatmap: HeatmapContext
    /// How the map was drawn (nil: not recorded, e.g. ratings imported from elsewhere).
    public var overlay: OverlaySettings?
    /// The slot of a paired trial (nil for a single-map trial).
    public var slot: TrialSlot?

    public init(heatmap: HeatmapContext, overlay: OverlaySettings?, slot: TrialSlot? = nil) {
        self.heatmap = heatmap; self.overlay = overlay; self.slot = slot
    }
}

/// One thing a rater answers on one screen: an item with one map, or with two maps in slots
/// A and B (a paired trial), on a scale.
///
/// `id` is the trial's identity, given by the rate session and stable across runs, e.g.
/// `"<session name>/<media sha256>@<frame>"`: resuming asks which trial ids are finished, and a
/// rater's answers are kept per trial, so the same map rated alone and in a pair are two
/// ratings. Slots are per rater: pass the slots this rater's shuffle drew.
///
/// ```swift
/// let trial = RatingTrial(id: "panel-1/\(item)", item: item, scale: .born, maps: [
///     RatedMap(heatmap: gradcam.context, overlay: OverlaySettings(colormap: "jet", opacity: 0.5, threshold: nil), slot: .a),
///     RatedMap(heatmap: layercam.context, overlay: OverlaySettings(colormap: "jet", opacity: 0.5, threshold: nil), slot: .b),
/// ])
/// ```
public struct RatingTrial: Hashable, Sendable {
    public var id: String
    public var item: ItemRef
    public var scale: RatingScale
    /// One map, or two maps in slots A and B.
    public var maps: [RatedMap]

    public init(id: String, item: ItemRef, scale: RatingScale, maps: [RatedMap]) {
        self.id = id; self.item = item; self.scale = scale; self.maps = maps
    }

    public var isPaired: Bool { maps.count == 2 }

    /// The map shown in `slot`.
    public func map(in slot: TrialSlot) -> RatedMap? { maps.first { $0.slot == slot } }

    /// Why this trial cannot be recorded, or nil.
    func problem() -> String? {
        if id.isEmpty { return "a rating trial needs an id" }
        switch maps.count {
        case 1:
            if maps[0].slot != nil { return "a single-map trial has no slot (slots are for paired trials)" }
        case 2:
            if Set(maps.compactMap(\.slot)) != [.a, .b] { return "a paired trial shows one map in slot A and one in slot B" }
            if maps[0].heatmap == maps[1].heatmap { return "the two maps of a paired trial are the same heatmap" }
        default:
            return "a trial shows one map or two (found \(maps.count))"
        }
        for m in maps {
            if let o = m.overlay, !(0...1).contains(o.opacity) || !(o.threshold.map { (0...1).contains($0) } ?? true) {
                return "overlay opacity and threshold are between 0 and 1"
            }
        }
        return nil
    }
}

/// A rater's answers about one map of a trial.
public struct MapAnswers: Equatable, Sendable {
    /// On the trial's scale; nil: not rated (yet).
    public var rating: HeatmapRating?
    /// Patterns the map highlights; nil: not asked.
    public var highlighted: Set<RatingPattern>?

    public init(rating: HeatmapRating?, highlighted: Set<RatingPattern>? = nil) {
        self.rating = rating; self.highlighted = highlighted
    }
}

/// A rater's answers on one trial. Everything but ``maps`` is about the trial as a whole.
///
/// ```swift
/// var answers = TrialAnswers(maps: [MapAnswers(rating: HeatmapRating(rawValue: 2), highlighted: [.bLines])])
/// answers.classGuess = "covid"; answers.visible = [.bLines, .pleuralLine]
/// ```
public struct TrialAnswers: Equatable, Sendable {
    /// One per map, in ``RatingTrial/maps`` order.
    public var maps: [MapAnswers]
    /// The class the rater thinks the item shows; nil: not asked.
    public var classGuess: String?
    /// Patterns the rater sees in the frame/clip; nil: not asked.
    public var visible: Set<RatingPattern>?
    public var comment: String?
    /// Paired trials: which map is better (a slot of this trial, or equal); nil: not answered.
    public var better: PairPreference?

    public init(maps: [MapAnswers], classGuess: String? = nil, visible: Set<RatingPattern>? = nil,
                comment: String? = nil, better: PairPreference? = nil) {
        self.maps = maps; self.classGuess = classGuess; self.visible = visible; self.comment = comment; self.better = better
    }
}

/// What the store holds for one rater's trial: the trial as recorded, the current answers, the
/// time spent on it so far, and whether every map has a rating.
public struct RecordedTrial: Equatable, Sendable {
    public var trial: RatingTrial
    public var answers: TrialAnswers
    /// Total seconds spent on the trial over all visits that recorded something.
    public var secondsSpent: Double
    /// Every map of the trial is rated.
    public var finished: Bool {
        !answers.maps.isEmpty && answers.maps.allSatisfy { $0.rating != nil }
    }
}

/// One current rating of one map by one rater, with its full provenance and every answer:
/// the unit of exports, statistics and `pleura ratings verify`.
public struct RatingRow: Equatable, Sendable {
    public var item: ItemRef
    public var annotatorID: Int64
    public var annotator: String
    /// The trial identity ("" for ratings recorded without one, e.g. imported 8-column CSV).
    public var trial: String
    public var scale: RatingScale
    public var map: RatedMap
    public var rating: HeatmapRating?
    public var highlighted: Set<RatingPattern>?
    public var classGuess: String?
    public var visible: Set<RatingPattern>?
    public var comment: String?
    public var better: PairPreference?
    public var seconds: Double?

    public init(item: ItemRef, annotatorID: Int64, annotator: String, trial: String, scale: RatingScale, map: RatedMap,
                rating: HeatmapRating? = nil, highlighted: Set<RatingPattern>? = nil, classGuess: String? = nil,
                visible: Set<RatingPattern>? = nil, comment: String? = nil, better: PairPreference? = nil, seconds: Double? = nil) {
        self.item = item; self.annotatorID = annotatorID; self.annotator = annotator; self.trial = trial
        self.scale = scale; self.map = map; self.rating = rating; self.highlighted = highlighted
        self.classGuess = classGuess; self.visible = visible; self.comment = comment; self.better = better
        self.seconds = seconds
    }

    public var heatmap: HeatmapContext { map.heatmap }

    /// Paired trials: true when the rater judged this map the better one, false when the other,
    /// nil when equal, unanswered or not paired.
    public var preferred: Bool? {
        guard let slot = map.slot, let choice = better?.slot else { return nil }
        return choice == slot
    }
}

/// A current rating without its presentation (the pre-trial view, kept for older callers).
public struct CurrentRating: Equatable, Sendable {
    public var item: ItemRef
    public var annotatorID: Int64
    public var context: HeatmapContext
    public var rating: HeatmapRating?
    public var comment: String?
}

/// The event fields of a rating (per map context). Trial-level answers are written to every map
/// of the trial in the same action, so each map's row is complete on its own.
enum RatingField: String, CaseIterable {
    case rating, comment, highlighted, classGuess = "class_guess", visible, better, seconds
}

extension AnnotationStore {
    /// Records a rater's answers on a trial as one action (one transaction, one undo step),
    /// committed before it returns: events for every field that changed, on every map of the
    /// trial. A later call with other answers is a revision (new events; history keeps both).
    /// `secondsSpent` (this visit) is added to the time already recorded for the trial.
    /// Answers must fit the trial: one ``MapAnswers`` per map, ratings on the trial's scale,
    /// `better` only for a paired trial. Returns the appended events.
    ///
    /// ```swift
    /// let events = try store.recordRating(answers, for: trial, secondsSpent: 14.2, annotator: rater, session: s)
    /// try store.undo(annotator: rater, session: s)   // the whole answer, as inverse events
    /// ```
    @discardableResult
    public func recordRating(_ answers: TrialAnswers, for trial: RatingTrial, secondsSpent: Double,
                             annotator: Annotator, session: StoreSession, kind: LabelEvent.Kind = .set) throws -> [LabelEvent] {
        try Self.checkFrame(trial.item, path: path)
        if let problem = trial.problem() { throw PleuraError(file: path, problem) }
        guard answers.maps.count == trial.maps.count else {
            throw PleuraError(file: path, "trial \(trial.id) shows \(trial.maps.count) map(s) but \(answers.maps.count) answer(s) were given")
        }
        for a in answers.maps {
            if let r = a.rating, !trial.scale.allows(r) {
                throw PleuraError(file: path, "rating \(r.rawValue) is not on the \(trial.scale.rawValue) scale (\(trial.scale.points.map { String($0.rawValue) }.joined(separator: ", ")))")
            }
        }
        if answers.better != nil && !trial.isPaired { throw PleuraError(file: path, "\"which is better\" needs a paired trial") }
        guard secondsSpent.isFinite, secondsSpent >= 0 else { throw PleuraError(file: path, "seconds spent must be 0 or more") }
        return try write { db in
            let mediaID = try self.mediaID(db, sha256: trial.item.mediaSHA256)
            let frame = trial.item.frame ?? -1
            let contexts = try trial.maps.map { try self.ratingContextID(db, $0, trial: trial.id, scale: trial.scale) }
            let before = try String.fetchOne(db, sql: """
                SELECT value FROM current_value WHERE media_id = ? AND frame = ? AND annotator_id = ? AND context_id = ? AND field = 'seconds'
                """, arguments: [mediaID, frame, annotator.id, contexts[0]]).flatMap(Double.init) ?? 0
            let seconds = Self.secondsText(before + secondsSpent)
            var changes: [FieldChange] = []
            for (map, contextID) in zip(answers.maps, contexts) {
                func add(_ f: RatingField, _ v: String?) {
                    changes.append(FieldChange(mediaID: mediaID, frame: frame, contextID: contextID, field: f.rawValue, value: v))
                }
                add(.rating, map.rating.map { String($0.rawValue) })
                add(.highlighted, map.highlighted.map(RatingPattern.text(of:)))
                add(.classGuess, Self.nonEmpty(answers.classGuess))
                add(.visible, answers.visible.map(RatingPattern.text(of:)))
                add(.comment, Self.nonEmpty(answers.comment))
                add(.better, answers.better?.rawValue)
                add(.seconds, seconds)
            }
            return try self.appendAction(db, kind: kind, annotator: annotator, session: session,
                                         sha256ByMediaID: [mediaID: trial.item.mediaSHA256], changes: changes)
        }
    }

    /// This rater's current answers on trial `id`, or nil when they never answered it. Only that
    /// rater's: a rate screen never reads other raters' answers (blinding).
    ///
    /// ```swift
    /// if let done = try store.recordedTrial(id: trial.id, annotator: rater) { show(done.answers) }
    /// ```
    public func recordedTrial(id: String, annotator: Annotator) throws -> RecordedTrial? {
        try recordedTrials(annotator: annotator, trialID: id)[id]
    }

    /// Every trial this rater has answered, by trial id (resume: skip the finished ones).
    public func recordedTrials(annotator: Annotator) throws -> [String: RecordedTrial] {
        try recordedTrials(annotator: annotator, trialID: nil)
    }

    /// The ids of the trials this rater has finished (every map rated).
    public func finishedTrials(annotator: Annotator) throws -> Set<String> {
        Set(try recordedTrials(annotator: annotator).filter { $0.value.finished }.map(\.key))
    }

    /// Every current rating of every rater (or of one), with provenance and answers, ordered by
    /// media, frame, rater and map. For statistics, reports, exports and verification.
    public func ratings(annotator: Annotator? = nil) throws -> [RatingRow] {
        try read { db in try self.fetchRatingRows(db, annotatorID: annotator?.id, trialID: nil) }
    }

    /// Records a rating (and comment) of one heatmap of `item` outside any trial (no overlay,
    /// slot or trial recorded; the seven-point scale), as one action. `rating: nil` withdraws it.
    ///
    /// ```swift
    /// try store.setRating(item: item, context: ctx, rating: HeatmapRating(rawValue: 2),
    ///                     comment: "highlights the B-lines", annotator: rater, session: s)
    /// ```
    @discardableResult
    public func setRating(item: ItemRef, context: HeatmapContext, rating: HeatmapRating?, comment: String?,
                          annotator: Annotator, session: StoreSession, kind: LabelEvent.Kind = .set) throws -> [LabelEvent] {
        let trial = RatingTrial(id: "", item: item, scale: .seven, maps: [RatedMap(heatmap: context, overlay: nil)])
        try Self.checkFrame(item, path: path)
        return try write { db in
            let mediaID = try self.mediaID(db, sha256: item.mediaSHA256)
            let contextID = try self.ratingContextID(db, trial.maps[0], trial: "", scale: .seven)
            return try self.appendAction(db, kind: kind, annotator: annotator, session: session,
                                         sha256ByMediaID: [mediaID: item.mediaSHA256], changes: [
                FieldChange(mediaID: mediaID, frame: item.frame ?? -1, contextID: contextID, field: "rating",
                            value: rating.map { String($0.rawValue) }),
                FieldChange(mediaID: mediaID, frame: item.frame ?? -1, contextID: contextID, field: "comment",
                            value: Self.nonEmpty(comment)),
            ])
        }
    }

    /// The annotator's current rating of that heatmap of that item outside any trial.
    public func currentRating(item: ItemRef, context: HeatmapContext, annotator: Annotator) throws -> (rating: HeatmapRating?, comment: String?) {
        let row = try ratings(annotator: annotator).first {
            $0.item == item && $0.heatmap == context && $0.trial.isEmpty && $0.map.overlay == nil && $0.map.slot == nil
        }
        return (row?.rating, row?.comment)
    }

    /// Every current rating (rated, or with a comment) without presentation details.
    public func currentRatings() throws -> [CurrentRating] {
        try ratings().filter { $0.rating != nil || $0.comment != nil }.map {
            CurrentRating(item: $0.item, annotatorID: $0.annotatorID, context: $0.heatmap, rating: $0.rating, comment: $0.comment)
        }
    }

    // MARK: - Internals

    static func nonEmpty(_ s: String?) -> String? { (s?.isEmpty ?? true) ? nil : s }

    /// Seconds as the store keeps them: 0.1 s resolution, shortest text.
    static func secondsText(_ s: Double) -> String { OverlaySettings.text((s * 10).rounded() / 10) }

    private func recordedTrials(annotator: Annotator, trialID: String?) throws -> [String: RecordedTrial] {
        let rows = try read { db in try self.fetchRatingRows(db, annotatorID: annotator.id, trialID: trialID) }
        var out: [String: RecordedTrial] = [:]
        for (id, group) in Dictionary(grouping: rows.filter { !$0.trial.isEmpty }, by: \.trial) {
            let sorted = group.sorted { ($0.map.slot?.rawValue ?? "", $0.heatmap.method, $0.heatmap.modelSHA256)
                                        < ($1.map.slot?.rawValue ?? "", $1.heatmap.method, $1.heatmap.modelSHA256) }
            let first = sorted[0]
            let trial = RatingTrial(id: id, item: first.item, scale: first.scale, maps: sorted.map(\.map))
            let answers = TrialAnswers(maps: sorted.map { MapAnswers(rating: $0.rating, highlighted: $0.highlighted) },
                                       classGuess: first.classGuess, visible: first.visible, comment: first.comment,
                                       better: first.better)
            out[id] = RecordedTrial(trial: trial, answers: answers, secondsSpent: sorted.compactMap(\.seconds).max() ?? 0)
        }
        return out
    }

    /// Reads current rating rows (legacy heatmap contexts and rating contexts alike).
    func fetchRatingRows(_ db: Database, annotatorID: Int64?, trialID: String?) throws -> [RatingRow] {
        let heatmaps = try Self.allContexts(db)
        let presentations = try Self.allRatingContexts(db, heatmaps: heatmaps)
        let shaByID = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT id, sha256 FROM media")
            .map { (row: Row) -> (Int64, String) in (row[0], row[1]) })
        let nameOf = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT id, name FROM annotator")
            .map { (row: Row) -> (Int64, String) in (row[0], row[1]) })
        var filter = "context_id != 0 AND value IS NOT NULL"
        var arguments: [DatabaseValueConvertible] = []
        if let annotatorID { filter += " AND annotator_id = ?"; arguments.append(annotatorID) }
        if let trialID {
            let ids = presentations.filter { $0.value.trial == trialID }.map(\.key)
            if ids.isEmpty { return [] }
            filter += " AND context_id IN (\(ids.map(String.init).joined(separator: ",")))"
        }
        var out: [RatingRow] = []
        var lastKey: (Int64, Int, Int64, Int64)? = nil
        let rows = try Row.fetchCursor(db, sql: """
            SELECT media_id, frame, annotator_id, context_id, field, value FROM current_value
            WHERE \(filter) ORDER BY media_id, frame, annotator_id, context_id
            """, arguments: StatementArguments(arguments))
        while let row = try rows.next() {
            let mediaID: Int64 = row[0], frame: Int = row[1], annotatorID: Int64 = row[2], contextID: Int64 = row[3]
            let field: String = row[4], value: String = row[5]
            let p: (map: RatedMap, trial: String, scale: RatingScale)
            if contextID > 0 {
                guard let h = heatmaps[contextID] else { continue }
                p = (RatedMap(heatmap: h, overlay: nil), "", .seven)
            } else {
                guard let known = presentations[contextID] else { continue }
                p = known
            }
            if lastKey.map({ $0 != (mediaID, frame, annotatorID, contextID) }) ?? true {
                out.append(RatingRow(item: ItemRef(mediaSHA256: shaByID[mediaID] ?? "", frame: frame < 0 ? nil : frame),
                                     annotatorID: annotatorID, annotator: nameOf[annotatorID] ?? "?", trial: p.trial,
                                     scale: p.scale, map: p.map))
                lastKey = (mediaID, frame, annotatorID, contextID)
            }
            Self.apply(field: field, value: value, to: &out[out.count - 1])
        }
        return out
    }

    static func apply(field: String, value: String, to r: inout RatingRow) {
        switch RatingField(rawValue: field) {
        case .rating?: r.rating = Int(value).flatMap { HeatmapRating(rawValue: $0) }
        case .comment?: r.comment = value
        case .highlighted?: r.highlighted = try? RatingPattern.parse(value).get()
        case .classGuess?: r.classGuess = value
        case .visible?: r.visible = try? RatingPattern.parse(value).get()
        case .better?: r.better = PairPreference(rawValue: value)
        case .seconds?: r.seconds = Double(value)
        case nil: break
        }
    }

    /// The rating context (negative id) of `map` shown in `trial` on `scale`, created when new.
    func ratingContextID(_ db: Database, _ map: RatedMap, trial: String, scale: RatingScale) throws -> Int64 {
        let heatmapID = try contextID(db, map.heatmap)
        let o = map.overlay
        let values: [DatabaseValueConvertible] = [heatmapID, trial, map.slot?.rawValue ?? "", scale.rawValue,
                                                  o?.colormap ?? "", o.map { OverlaySettings.text($0.opacity) } ?? "",
                                                  o?.threshold.map(OverlaySettings.text) ?? ""]
        if let id = try Int64.fetchOne(db, sql: """
            SELECT id FROM rating_context WHERE heatmap_context_id = ? AND trial = ? AND slot = ? AND scale = ?
            AND colormap = ? AND opacity = ? AND threshold = ?
            """, arguments: StatementArguments(values)) { return id }
        let id = (try Int64.fetchOne(db, sql: "SELECT coalesce(min(id), 0) - 1 FROM rating_context")) ?? -1
        try db.execute(sql: """
            INSERT INTO rating_context (id, heatmap_context_id, trial, slot, scale, colormap, opacity, threshold)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: StatementArguments([id] + values))
        return id
    }

    static func allRatingContexts(_ db: Database, heatmaps: [Int64: HeatmapContext]) throws
        -> [Int64: (map: RatedMap, trial: String, scale: RatingScale)] {
        var out: [Int64: (map: RatedMap, trial: String, scale: RatingScale)] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT id, heatmap_context_id, trial, slot, scale, colormap, opacity, threshold FROM rating_context
            """) {
            guard let h = heatmaps[row[1]] else { continue }
            let colormap: String = row[5], opacity: String = row[6], threshold: String = row[7]
            let overlay = colormap.isEmpty ? nil
                : OverlaySettings(colormap: colormap, opacity: Double(opacity) ?? 0, threshold: Double(threshold))
            let slot: String = row[3], scale: String = row[4]
            out[row[0]] = (RatedMap(heatmap: h, overlay: overlay, slot: TrialSlot(rawValue: slot)), row[2],
                           RatingScale(rawValue: scale) ?? .seven)
        }
        return out
    }

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
