import Foundation
import GRDB
import PleuraCore

/// Agreement of two annotators on one field.
public struct PairAgreement: Equatable, Sendable {
    public var a: String
    public var b: String
    /// Items both labelled.
    public var n: Int
    public var cohenKappa: Double?
    /// Quadratic-weighted kappa (ordinal fields only).
    public var quadraticKappa: Double?
}

/// Agreement of all annotators on one field.
public struct FieldAgreement: Equatable, Sendable {
    /// Items with the field assessed by at least two annotators.
    public var items: Int
    public var fleissKappa: Double?
    public var krippendorffAlphaNominal: Double?
    /// Ordinal fields (severity, ratings) only.
    public var krippendorffAlphaOrdinal: Double?
    public var krippendorffAlphaInterval: Double?
    public var pairwise: [PairAgreement]
}

/// How a model's predictions compare with one annotator on one field.
public struct ModelComparison: Equatable, Sendable {
    public var annotator: String
    public var n: Int
    public var cohenKappa: Double?
    public var quadraticKappa: Double?
    public var accuracy: Double?
    public var classes: [String]
    /// counts[annotator's class][model's class].
    public var confusion: [[Int]]
    public var perClass: [ClassMetrics]
}

/// Everything `pleura stats` reports.
public struct StatisticsReport: Equatable, Sendable {
    public var level: ItemLevel
    /// Items with at least one label at this level.
    public var items: Int
    public var annotators: [String]
    public var severity: FieldAgreement
    public var findings: [(Finding, FieldAgreement)]
    public var ratingsCount: Int
    public var ratingsOverall: RatingSummary
    public var ratingsPerRater: [(String, RatingSummary)]
    /// By the class the rated map explains (the model's predicted class in rate mode).
    public var ratingsPerPredictedClass: [(String, RatingSummary)]
    /// By the reference annotators' severity of the item (or of its whole video).
    public var ratingsPerTrueClass: [(String, RatingSummary)]
    public var ratingsAgreement: FieldAgreement
    /// Per model sha256: severity comparison and per-finding comparisons with every annotator.
    public var models: [ModelReport]
    /// How video-level model answers were aggregated from frame predictions.
    public var aggregation: VideoAggregation = .mean
    /// The panel-study analysis of every rating (frames and clips), as `pleura report ratings`
    /// shows it; nil when nothing is rated.
    public var ratingStudy: RatingStudy? = nil

    public static func == (l: StatisticsReport, r: StatisticsReport) -> Bool {
        l.level == r.level && l.items == r.items && l.annotators == r.annotators && l.severity == r.severity
            && l.findings.map(\.1) == r.findings.map(\.1) && l.ratingsCount == r.ratingsCount
    }
}

extension AnnotationStore {
    /// Computes inter-annotator agreement (severity, each finding), rating summaries and
    /// agreement, and model-vs-annotator comparisons over the current labels at one level.
    ///
    /// ```swift
    /// let report = try store.statistics(level: .frame)
    /// report.severity.krippendorffAlphaOrdinal
    /// report.severity.pairwise.map { "\($0.a)–\($0.b): \($0.quadraticKappa ?? .nan)" }
    /// ```
    public func statistics(level: ItemLevel = .frame, root: String = FileManager.default.currentDirectoryPath,
                           models modelOptions: ModelAnswerOptions = ModelAnswerOptions()) throws -> StatisticsReport {
        let annotatorList = try annotators()
        let nameOf = Dictionary(uniqueKeysWithValues: annotatorList.map { ($0.id, $0.name) })
        let referenceIDs = Set(annotatorList.filter { $0.role == .reference }.map(\.id))

        // Current labels, read as integers only (field code, value), packed one per row:
        // item index << 24 | field << 20 | annotator slot << 4 | value.
        let fields: [LabelField] = [.severity, .aLines, .b1Lines, .b2Lines, .consolidation]
        var slotOf: [Int64: Int] = [:]
        var slotNames: [String] = []
        var itemKeys: [(Int64, Int)] = []
        var packed: [Int64] = []
        try read { db in
            let filter = level == .frame ? "frame >= 0" : "frame = -1"
            let statement = try db.makeStatement(sql: """
                SELECT media_id, frame, annotator_id,
                       CASE field WHEN 'severity' THEN 0 WHEN 'a_lines' THEN 1 WHEN 'b1_lines' THEN 2
                                  WHEN 'b2_lines' THEN 3 WHEN 'consolidation' THEN 4 END,
                       CAST(value AS INTEGER)
                FROM current_value
                WHERE context_id = 0 AND value IS NOT NULL AND \(filter)
                  AND field IN ('severity', 'a_lines', 'b1_lines', 'b2_lines', 'consolidation')
                ORDER BY media_id, frame, annotator_id
                """)
            let cursor = try Row.fetchCursor(statement)
            var lastMedia: Int64 = -1, lastFrame = Int.min
            var lastAnnotator: Int64 = -1, lastSlot = 0
            while let row = try cursor.next() {
                let mediaID: Int64 = row[0], frame: Int = row[1]
                if mediaID != lastMedia || frame != lastFrame {
                    itemKeys.append((mediaID, frame)); lastMedia = mediaID; lastFrame = frame
                }
                let annotatorID: Int64 = row[2]
                if annotatorID != lastAnnotator {
                    if let known = slotOf[annotatorID] { lastSlot = known } else {
                        lastSlot = slotNames.count; slotOf[annotatorID] = lastSlot; slotNames.append(nameOf[annotatorID] ?? "?")
                    }
                    lastAnnotator = annotatorID
                }
                let field: Int64 = row[3], value: Int64 = row[4]
                guard (0...3).contains(value) else { continue }   // not a stored label value
                packed.append(Int64(itemKeys.count - 1) << 24 | field << 20 | Int64(lastSlot) << 4 | value)
            }
        }
        // Order annotators by name for a stable pair order.
        let order = slotNames.indices.sorted { slotNames[$0] < slotNames[$1] }
        var rank = [Int](repeating: 0, count: slotNames.count)
        for (r, slot) in order.enumerated() { rank[slot] = r }
        let names = order.map { slotNames[$0] }
        let n = names.count
        let table = LabelTable(items: itemKeys.count, annotators: n, fields: fields.count, packed: packed, rank: rank)
        packed = []
        let severity = Self.agreement(table, field: 0, names: names, categories: 4, offset: 0, ordinal: true)
        var findings: [(Finding, FieldAgreement)] = []
        for (offset, finding) in [Finding.aLines, .b1Lines, .b2Lines, .consolidation].enumerated() {
            findings.append((finding, Self.agreement(table, field: offset + 1, names: names, categories: 2, offset: 0, ordinal: false)))
        }

        // Ratings.
        // One read of every rating, for the level's summaries below and the whole rating study.
        let ratingRows = try self.ratings()
        let ratings = ratingRows.filter { ($0.rating != nil || $0.comment != nil) && (level == .frame ? $0.item.frame != nil : $0.item.frame == nil) }
            .map { CurrentRating(item: $0.item, annotatorID: $0.annotatorID, context: $0.heatmap, rating: $0.rating, comment: $0.comment) }
        let rated = ratings.compactMap { r in r.rating.map { (r, $0.rawValue) } }
        var perRater: [String: [Int]] = [:], perTarget: [String: [Int]] = [:], perTrue: [String: [Int]] = [:]
        let referenceSeverity: (ItemRef) throws -> Int? = { item in
            guard !referenceIDs.isEmpty else { return nil }
            let labels = try self.currentLabelsByAnnotator(item: item)
            for id in referenceIDs.sorted() { if let s = labels[id]?.severity { return s.rawValue } }
            if item.frame != nil {
                let video = try self.currentLabelsByAnnotator(item: ItemRef(mediaSHA256: item.mediaSHA256, frame: nil))
                for id in referenceIDs.sorted() { if let s = video[id]?.severity { return s.rawValue } }
            }
            return nil
        }
        var ratingUnits: [String: [String: Int]] = [:]   // unit (item + context) → rater → rating
        for (r, value) in rated {
            let rater = nameOf[r.annotatorID] ?? "?"
            perRater[rater, default: []].append(value)
            perTarget[r.context.target, default: []].append(value)
            if let s = try referenceSeverity(r.item) { perTrue["severity_\(s)", default: []].append(value) }
            let unit = "\(r.item)|\(r.context.modelSHA256)|\(r.context.method)|\(r.context.layer)|\(r.context.target)|\(r.context.heatmapSHA256)"
            ratingUnits[unit, default: [:]][rater] = value
        }
        let raters = Array(Set(ratingUnits.values.flatMap(\.keys))).sorted()
        var ratingTable = LabelTable(items: ratingUnits.count, annotators: raters.count, fields: 1)
        for (u, unit) in ratingUnits.keys.sorted().enumerated() {
            for (a, rater) in raters.enumerated() { if let v = ratingUnits[unit]![rater] { ratingTable[0, u, a] = Int8(v + 3) } }
        }
        let ratingsAgreement = Self.agreement(ratingTable, field: 0, names: raters, categories: 7, offset: -3, ordinal: true)

        // Models: predictions compared with each annotator.
        let models = try modelComparisons(level: level, itemKeys: itemKeys, table: table, names: names, options: modelOptions)

        func summaries(_ d: [String: [Int]]) -> [(String, RatingSummary)] { d.keys.sorted().map { ($0, RatingSummary(d[$0]!)) } }
        let ratingRecords = try self.ratingRecords(of: ratingRows, root: root).map(\.record)
        var report = StatisticsReport(level: level, items: itemKeys.count, annotators: names, severity: severity, findings: findings,
                                ratingsCount: rated.count, ratingsOverall: RatingSummary(rated.map(\.1)),
                                ratingsPerRater: summaries(perRater), ratingsPerPredictedClass: summaries(perTarget),
                                ratingsPerTrueClass: summaries(perTrue), ratingsAgreement: ratingsAgreement, models: models)
        report.aggregation = modelOptions.aggregation
        if ratingRecords.contains(where: { $0.rating != nil }) { report.ratingStudy = RatingStudy(records: ratingRecords) }
        return report
    }

    /// Agreement on one field of a table whose values are category indices 0..<categories
    /// (`offset` + index is the category's value, for the interval metric and the reports).
    static func agreement(_ table: LabelTable, field: Int, names: [String], categories k: Int, offset: Int,
                          ordinal: Bool) -> FieldAgreement {
        let n = names.count
        var counts = [Int](repeating: 0, count: table.items * k)
        var pairConfusion = [[Double]](repeating: [Double](repeating: 0, count: k * k), count: n * n)
        var pairN = [Int](repeating: 0, count: n * n)
        var pairable = 0
        var present = [Int](repeating: 0, count: n)
        for item in 0..<table.items {
            var m = 0
            for a in 0..<n {
                let v = table[field, item, a]
                if v >= 0 { counts[item * k + Int(v)] += 1; present[m] = a; m += 1 }
            }
            if m >= 2 { pairable += 1 }
            if m >= 2 {
                for x in 0..<(m - 1) {
                    let a = present[x], va = Int(table[field, item, a])
                    for y in (x + 1)..<m {
                        let b = present[y], vb = Int(table[field, item, b])
                        pairConfusion[a * n + b][va * k + vb] += 1
                        pairN[a * n + b] += 1
                    }
                }
            }
        }
        var pairs: [PairAgreement] = []
        if n >= 2 {
            for a in 0..<(n - 1) {
                for b in (a + 1)..<n {
                    let flat = pairConfusion[a * n + b]
                    let confusion = (0..<k).map { Array(flat[($0 * k)..<($0 * k + k)]) }
                    let count = pairN[a * n + b]
                    pairs.append(PairAgreement(a: names[a], b: names[b], n: count,
                                               cohenKappa: count == 0 ? nil : Agreement.cohenKappa(confusion: confusion),
                                               quadraticKappa: !ordinal || count == 0 ? nil
                                                   : Agreement.cohenKappa(confusion: confusion, weighting: .quadratic)))
                }
            }
        }
        let values = (0..<k).map { Double($0 + offset) }
        return FieldAgreement(items: pairable,
                              fleissKappa: Agreement.fleissKappa(flatCounts: counts, categories: k),
                              krippendorffAlphaNominal: Agreement.krippendorffAlpha(valueCounts: counts, values: values, level: .nominal),
                              krippendorffAlphaOrdinal: ordinal ? Agreement.krippendorffAlpha(valueCounts: counts, values: values, level: .ordinal) : nil,
                              krippendorffAlphaInterval: ordinal ? Agreement.krippendorffAlpha(valueCounts: counts, values: values, level: .interval) : nil,
                              pairwise: pairs)
    }

    /// Each model's answers (``modelAnswers(level:options:)``: frames, or clips aggregated as
    /// `options` says) compared with each annotator on severity, each finding the model predicts,
    /// and its `b_lines` against the annotator's "B1 or B2". Answers on the model's training
    /// files are left out unless `options.includeTraining`; their count is reported.
    private func modelComparisons(level: ItemLevel, itemKeys: [(Int64, Int)], table: LabelTable, names: [String],
                                  options: ModelAnswerOptions) throws -> [ModelReport] {
        var itemIndex: [String: [Int: Int]] = [:]
        let shaOf = Dictionary(uniqueKeysWithValues: try allMedia().map { ($0.id, $0.sha256) })
        for (i, k) in itemKeys.enumerated() { if let sha = shaOf[k.0] { itemIndex[sha, default: [:]][k.1] = i } }
        let byModel = try modelAnswers(level: level, options: options)
        // The annotator's value on a field, from the label table (B-lines: B1 or B2).
        func human(_ field: ReviewField, item: Int, annotator a: Int) -> Int? {
            func at(_ f: Int) -> Int? { let v = table[f, item, a]; return v >= 0 ? Int(v) : nil }
            switch field {
            case .severity: return at(0)
            case .aLines: return at(1)
            case .b1Lines: return at(2)
            case .b2Lines: return at(3)
            case .consolidation: return at(4)
            case .bLines:
                let b1 = at(2), b2 = at(3)
                if b1 == 1 || b2 == 1 { return 1 }
                if b1 == 0 && b2 == 0 { return 0 }
                return nil
            }
        }
        return byModel.keys.sorted().map { model in
            var answers: [(Int, ModelAnswer)] = []
            var seen = 0
            for (item, answer) in byModel[model]! {
                guard let i = itemIndex[item.mediaSHA256]?[item.frame ?? -1] else { continue }
                if answer.seenInTraining { seen += 1; if !options.includeTraining { continue } }
                answers.append((i, answer))
            }
            func compare(_ field: ReviewField) -> [ModelComparison]? {
                guard answers.contains(where: { $0.1.value(field) != nil }) else { return nil }
                let categories = field == .severity ? [0, 1, 2, 3] : [0, 1]
                return names.indices.compactMap { a in
                    var h: [Int] = [], m: [Int] = []
                    for (i, answer) in answers {
                        if let hv = human(field, item: i, annotator: a), let mv = answer.value(field) { h.append(hv); m.append(mv) }
                    }
                    guard !h.isEmpty else { return nil }
                    let cm = ConfusionMatrix(truth: h, predicted: m, classes: categories)
                    return ModelComparison(annotator: names[a], n: h.count,
                                           cohenKappa: Agreement.cohenKappa(h, m, categories: categories),
                                           quadraticKappa: field == .severity ? Agreement.cohenKappa(h, m, categories: categories, weighting: .quadratic) : nil,
                                           accuracy: cm.accuracy, classes: categories.map(String.init), confusion: cm.counts,
                                           perClass: cm.perClass)
                }
            }
            let findings = [Finding.aLines, .b1Lines, .b2Lines, .consolidation].compactMap { f -> (Finding, [ModelComparison])? in
                compare(ReviewField(rawValue: f.rawValue)!).map { (f, $0) }
            }
            return ModelReport(model: model, severity: compare(.severity) ?? [], findings: findings, bLines: compare(.bLines),
                               seenInTraining: seen, includesTraining: options.includeTraining)
        }
    }
}

/// One model against every annotator (``StatisticsReport/models``).
public struct ModelReport: Sendable {
    public var model: String
    public var severity: [ModelComparison]
    public var findings: [(Finding, [ModelComparison])]
    /// The model's `b_lines` (any B-lines) against each annotator's "B1 or B2"; nil when the
    /// model has no such output.
    public var bLines: [ModelComparison]?
    /// Items this model was trained on (its card's `training.files_sha256`).
    public var seenInTraining: Int
    /// Whether those items are counted above (`--include-training`) or left out (the default).
    public var includesTraining: Bool
}

extension StatisticsReport {
    /// The report as one JSON object (keys sorted; undefined statistics are `null`). Keys:
    /// `level`, `items`, `annotators`, `severity` {`items`, `fleiss_kappa`,
    /// `krippendorff_alpha_nominal`, `krippendorff_alpha_ordinal`, `krippendorff_alpha_interval`,
    /// `pairwise`: [{`a`, `b`, `n`, `cohen_kappa`, `quadratic_kappa`}]}, `findings`.<name> {`items`,
    /// `fleiss_kappa`, `krippendorff_alpha_nominal`, `pairwise`: [{`a`, `b`, `n`, `cohen_kappa`}]},
    /// `ratings` {`n`, `summary`, `per_rater`, `per_predicted_class`, `per_true_class`,
    /// `agreement`}, `rating_study` {section: {group: {statistic: value}}} (``RatingStudy/numbers``; null
    /// without ratings), `model` [{`model`, `severity`: [...], `findings`.<name>: [...] (`b_lines`: the
    /// model's B-lines against B1 or B2), `seen_in_training` (items on the model's training files),
    /// `includes_training`}], `aggregation` (the video-level rule).
    public var json: String { jsonValue.serialized }

    var jsonValue: JSONValue {
        func num(_ d: Double?) -> JSONValue { d.map { .double($0) } ?? .null }
        func pairs(_ p: [PairAgreement], ordinal: Bool) -> JSONValue {
            .array(p.map { pair in
                var o: [String: JSONValue] = ["a": .string(pair.a), "b": .string(pair.b), "n": .int(pair.n),
                                              "cohen_kappa": num(pair.cohenKappa)]
                if ordinal { o["quadratic_kappa"] = num(pair.quadraticKappa) }
                return .object(o)
            })
        }
        func field(_ f: FieldAgreement, ordinal: Bool) -> JSONValue {
            var o: [String: JSONValue] = ["items": .int(f.items), "fleiss_kappa": num(f.fleissKappa),
                                          "krippendorff_alpha_nominal": num(f.krippendorffAlphaNominal),
                                          "pairwise": pairs(f.pairwise, ordinal: ordinal)]
            if ordinal {
                o["krippendorff_alpha_ordinal"] = num(f.krippendorffAlphaOrdinal)
                o["krippendorff_alpha_interval"] = num(f.krippendorffAlphaInterval)
            }
            return .object(o)
        }
        func summary(_ s: RatingSummary) -> JSONValue {
            .object(["n": .int(s.count), "mean": num(s.mean), "sd": num(s.sd), "median": num(s.median),
                     "histogram": .object(Dictionary(uniqueKeysWithValues: (-3...3).map { (String($0), JSONValue.int(s.histogram[$0 + 3])) }))])
        }
        func summaries(_ list: [(String, RatingSummary)]) -> JSONValue {
            .object(Dictionary(uniqueKeysWithValues: list.map { ($0.0, summary($0.1)) }))
        }
        func comparisons(_ list: [ModelComparison], ordinal: Bool) -> JSONValue {
            .array(list.map { c in
                var o: [String: JSONValue] = ["annotator": .string(c.annotator), "n": .int(c.n), "cohen_kappa": num(c.cohenKappa),
                                              "accuracy": num(c.accuracy),
                                              "classes": .array(c.classes.map { .string($0) }),
                                              "confusion": .array(c.confusion.map { .array($0.map { .int($0) }) })]
                if ordinal { o["quadratic_kappa"] = num(c.quadraticKappa) }
                o["per_class"] = .array(zip(c.classes, c.perClass).map { cls, m in
                    .object(["class": .string(cls), "support": .int(m.support), "sensitivity": num(m.sensitivity),
                             "specificity": num(m.specificity), "precision": num(m.precision), "f1": num(m.f1)])
                })
                return .object(o)
            })
        }
        return .object([
            "level": .string(level.rawValue),
            "items": .int(items),
            "annotators": .array(annotators.map { .string($0) }),
            "severity": field(severity, ordinal: true),
            "findings": .object(Dictionary(uniqueKeysWithValues: findings.map { ($0.0.csvName, field($0.1, ordinal: false)) })),
            "ratings": .object(["n": .int(ratingsCount), "summary": summary(ratingsOverall),
                                "per_rater": summaries(ratingsPerRater),
                                "per_predicted_class": summaries(ratingsPerPredictedClass),
                                "per_true_class": summaries(ratingsPerTrueClass),
                                "agreement": field(ratingsAgreement, ordinal: true)]),
            "rating_study": ratingStudy.map { study in
                var sections: [String: [String: [String: JSONValue]]] = [:]
                for row in study.numbers {
                    sections[row.section, default: [:]][row.group, default: [:]][row.statistic] = Double(row.value).map { .double($0) } ?? .null
                }
                return .object(sections.mapValues { .object($0.mapValues { .object($0) }) })
            } ?? .null,
            "model": .array(models.map { m in
                var findings = Dictionary(uniqueKeysWithValues: m.findings.map { ($0.0.csvName, comparisons($0.1, ordinal: false)) })
                if let b = m.bLines { findings["b_lines"] = comparisons(b, ordinal: false) }
                return .object(["model": .string(m.model), "severity": comparisons(m.severity, ordinal: true),
                                "findings": .object(findings), "seen_in_training": .int(m.seenInTraining),
                                "includes_training": .bool(m.includesTraining)])
            }),
            "aggregation": .string(aggregation.rawValue),
        ])
    }
}

/// Label values as category indices in one flat array: [field][item][annotator], -1 = none.
struct LabelTable {
    let items: Int
    let annotators: Int
    let fields: Int
    private var values: [Int8]

    init(items: Int, annotators: Int, fields: Int) {
        self.items = items; self.annotators = annotators; self.fields = fields
        values = [Int8](repeating: -1, count: max(0, items * annotators * fields))
    }

    /// From packed rows (item << 24 | field << 20 | slot << 4 | value) and slot → annotator rank.
    init(items: Int, annotators: Int, fields: Int, packed: [Int64], rank: [Int]) {
        self.init(items: items, annotators: annotators, fields: fields)
        for p in packed {
            let item = Int(p >> 24), field = Int((p >> 20) & 0xF), slot = Int((p >> 4) & 0xFFFF), value = Int8(p & 0xF)
            values[(field * items + item) * annotators + rank[slot]] = value
        }
    }

    subscript(field: Int, item: Int, annotator: Int) -> Int8 {
        get { values[(field * items + item) * annotators + annotator] }
        set { values[(field * items + item) * annotators + annotator] = newValue }
    }
}
