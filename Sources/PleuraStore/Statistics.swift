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
    public var models: [(model: String, severity: [ModelComparison], findings: [(Finding, [ModelComparison])])]

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
    public func statistics(level: ItemLevel = .frame) throws -> StatisticsReport {
        let annotatorList = try annotators()
        let nameOf = Dictionary(uniqueKeysWithValues: annotatorList.map { ($0.id, $0.name) })
        let referenceIDs = Set(annotatorList.filter { $0.role == .reference }.map(\.id))

        // Current labels as compact per-item arrays: value per (field, annotator slot), -1 = none.
        var slotOf: [Int64: Int] = [:]
        var slotNames: [String] = []
        let fields: [LabelField] = [.severity, .aLines, .b1Lines, .b2Lines, .consolidation]
        var itemKeys: [(Int64, Int)] = []
        var currentKey: (Int64, Int)? = nil
        var itemRows: [[(Int, Int8, Int)]] = []   // per item: (fieldIndex, value, slot)
        var rows: [(Int, Int8, Int)] = []
        let fieldIndex: [String: Int] = Dictionary(uniqueKeysWithValues: fields.enumerated().map { ($1.rawValue, $0) })
        try read { db in
            let filter = level == .frame ? "frame >= 0" : "frame = -1"
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT media_id, frame, annotator_id, field, value FROM current_value
                WHERE context_id = 0 AND value IS NOT NULL AND \(filter) AND field != 'note' AND field != 'quality'
                ORDER BY media_id, frame, annotator_id
                """)
            while let row = try cursor.next() {
                let key: (Int64, Int) = (row[0], row[1])
                if currentKey.map({ $0 != key }) ?? true {
                    if currentKey != nil { itemRows.append(rows); itemKeys.append(currentKey!); rows = [] }
                    currentKey = key
                }
                let annotatorID: Int64 = row[2]
                guard let fi = fieldIndex[row[3] as String] else { continue }
                let text: String = row[4]
                guard let v = Int8(text) else { continue }
                let slot: Int
                if let s = slotOf[annotatorID] { slot = s } else {
                    slot = slotNames.count; slotOf[annotatorID] = slot; slotNames.append(nameOf[annotatorID] ?? "?")
                }
                rows.append((fi, v, slot))
            }
            if let k = currentKey { itemRows.append(rows); itemKeys.append(k) }
        }
        let maxSlots = slotNames.count
        // Order annotator slots by name for stable pair order.
        let order = slotNames.indices.sorted { slotNames[$0] < slotNames[$1] }
        var rank = [Int](repeating: 0, count: maxSlots)
        for (r, s) in order.enumerated() { rank[s] = r }
        let names = order.map { slotNames[$0] }
        let n = names.count
        // table[field][item][annotatorRank]
        var table = [[[Int8]]](repeating: [], count: fields.count)
        for fi in fields.indices { table[fi] = [[Int8]](repeating: [Int8](repeating: -1, count: n), count: itemRows.count) }
        for (i, rows) in itemRows.enumerated() {
            for (fi, v, slot) in rows { table[fi][i][rank[slot]] = v }
        }
        let severity = Self.agreement(table[0], names: names, categories: [0, 1, 2, 3], ordinal: true)
        var findings: [(Finding, FieldAgreement)] = []
        for (offset, finding) in [Finding.aLines, .b1Lines, .b2Lines, .consolidation].enumerated() {
            findings.append((finding, Self.agreement(table[offset + 1], names: names, categories: [0, 1], ordinal: false)))
        }

        // Ratings.
        let ratings = try currentRatings().filter { level == .frame ? $0.item.frame != nil : $0.item.frame == nil }
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
        let ratingTable: [[Int8]] = ratingUnits.keys.sorted().map { unit in
            raters.map { ratingUnits[unit]![$0].map { Int8($0) } ?? Int8.min }
        }
        let ratingsAgreement = Self.agreement(ratingTable, names: raters, categories: Array(-3...3), ordinal: true, missing: Int8.min)

        // Models: predictions compared with each annotator.
        let models = try modelComparisons(level: level, itemKeys: itemKeys, table: table, names: names)

        func summaries(_ d: [String: [Int]]) -> [(String, RatingSummary)] { d.keys.sorted().map { ($0, RatingSummary(d[$0]!)) } }
        return StatisticsReport(level: level, items: itemRows.count, annotators: names, severity: severity, findings: findings,
                                ratingsCount: rated.count, ratingsOverall: RatingSummary(rated.map(\.1)),
                                ratingsPerRater: summaries(perRater), ratingsPerPredictedClass: summaries(perTarget),
                                ratingsPerTrueClass: summaries(perTrue), ratingsAgreement: ratingsAgreement, models: models)
    }

    /// Agreement over a units × annotators table (`missing` marks no value).
    static func agreement(_ table: [[Int8]], names: [String], categories: [Int], ordinal: Bool, missing: Int8 = -1) -> FieldAgreement {
        let n = names.count
        var units: [[Double]] = []
        units.reserveCapacity(table.count)
        var counts: [[Int]] = []
        let catIndex = Dictionary(uniqueKeysWithValues: categories.enumerated().map { ($1, $0) })
        for row in table {
            var values: [Double] = []
            var c = [Int](repeating: 0, count: categories.count)
            for v in row where v != missing {
                values.append(Double(v))
                if let i = catIndex[Int(v)] { c[i] += 1 }
            }
            if values.count >= 2 { units.append(values); counts.append(c) }
        }
        var pairs: [PairAgreement] = []
        if n >= 2 {
            for i in 0..<(n - 1) {
                for j in (i + 1)..<n {
                    var a: [Int] = [], b: [Int] = []
                    for row in table where row[i] != missing && row[j] != missing {
                        a.append(Int(row[i])); b.append(Int(row[j]))
                    }
                    pairs.append(PairAgreement(
                        a: names[i], b: names[j], n: a.count,
                        cohenKappa: a.isEmpty ? nil : Agreement.cohenKappa(a, b, categories: categories),
                        quadraticKappa: !ordinal || a.isEmpty ? nil : Agreement.cohenKappa(a, b, categories: categories, weighting: .quadratic)))
                }
            }
        }
        return FieldAgreement(items: units.count,
                              fleissKappa: Agreement.fleissKappa(counts: counts),
                              krippendorffAlphaNominal: Agreement.krippendorffAlpha(units: units, level: .nominal),
                              krippendorffAlphaOrdinal: ordinal ? Agreement.krippendorffAlpha(units: units, level: .ordinal) : nil,
                              krippendorffAlphaInterval: ordinal ? Agreement.krippendorffAlpha(units: units, level: .interval) : nil,
                              pairwise: pairs)
    }

    /// The model's answer per item from stored predictions: the most probable class of head
    /// `severity` (classes `0`–`3`), and for findings a head named after the finding (class `1`
    /// or `present`) or a multi-label head `findings` (class = finding name), present when the
    /// probability is at least 0.5.
    private func modelComparisons(level: ItemLevel, itemKeys: [(Int64, Int)], table: [[[Int8]]], names: [String])
        throws -> [(model: String, severity: [ModelComparison], findings: [(Finding, [ModelComparison])])] {
        struct Answers { var severity: [Int: (Int, Double)] = [:]; var findings: [Finding: [Int: Int]] = [:] }
        var itemIndex: [Int64: [Int: Int]] = [:]
        for (i, k) in itemKeys.enumerated() { itemIndex[k.0, default: [:]][k.1] = i }
        var byModel: [String: Answers] = [:]
        try read { db in
            let filter = level == .frame ? "frame >= 0" : "frame = -1"
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT media_id, frame, model_sha256, head, class, probability FROM prediction WHERE \(filter)
                """)
            while let row = try cursor.next() {
                let mediaID: Int64 = row[0], frame: Int = row[1]
                guard let item = itemIndex[mediaID]?[frame] else { continue }
                let model: String = row[2], head: String = row[3], cls: String = row[4], p: Double = row[5]
                if head == "severity", let s = Int(cls), (0...3).contains(s) {
                    let best = byModel[model]?.severity[item]
                    if best == nil || p > best!.1 { byModel[model, default: Answers()].severity[item] = (s, p) }
                } else if head == "findings", let f = Finding(rawValue: cls) {
                    byModel[model, default: Answers()].findings[f, default: [:]][item] = p >= 0.5 ? 1 : 0
                } else if let f = Finding(rawValue: head), cls == "1" || cls == "present" {
                    byModel[model, default: Answers()].findings[f, default: [:]][item] = p >= 0.5 ? 1 : 0
                }
            }
        }
        func compare(_ answers: [Int: Int], field: Int, categories: [Int], ordinal: Bool) -> [ModelComparison] {
            names.indices.compactMap { a in
                var human: [Int] = [], model: [Int] = []
                for (item, m) in answers {
                    let v = table[field][item][a]
                    if v >= 0 { human.append(Int(v)); model.append(m) }
                }
                guard !human.isEmpty else { return nil }
                let cm = ConfusionMatrix(truth: human, predicted: model, classes: categories)
                return ModelComparison(annotator: names[a], n: human.count,
                                       cohenKappa: Agreement.cohenKappa(human, model, categories: categories),
                                       quadraticKappa: ordinal ? Agreement.cohenKappa(human, model, categories: categories, weighting: .quadratic) : nil,
                                       accuracy: cm.accuracy, classes: categories.map(String.init), confusion: cm.counts,
                                       perClass: cm.perClass)
            }
        }
        return byModel.keys.sorted().map { model in
            let answers = byModel[model]!
            let severity = compare(answers.severity.mapValues(\.0), field: 0, categories: [0, 1, 2, 3], ordinal: true)
            let findings = [Finding.aLines, .b1Lines, .b2Lines, .consolidation].enumerated().compactMap { offset, f -> (Finding, [ModelComparison])? in
                guard let a = answers.findings[f] else { return nil }
                return (f, compare(a, field: offset + 1, categories: [0, 1], ordinal: false))
            }
            return (model, severity, findings)
        }
    }
}

extension StatisticsReport {
    /// The report as one JSON object (keys sorted; undefined statistics are `null`). Keys:
    /// `level`, `items`, `annotators`, `severity` {`items`, `fleiss_kappa`,
    /// `krippendorff_alpha_nominal`, `krippendorff_alpha_ordinal`, `krippendorff_alpha_interval`,
    /// `pairwise`: [{`a`, `b`, `n`, `cohen_kappa`, `quadratic_kappa`}]}, `findings`.<name> {`items`,
    /// `fleiss_kappa`, `krippendorff_alpha_nominal`, `pairwise`: [{`a`, `b`, `n`, `cohen_kappa`}]},
    /// `ratings` {`n`, `summary`, `per_rater`, `per_predicted_class`, `per_true_class`,
    /// `agreement`}, `model` [{`model`, `severity`: [...], `findings`.<name>: [...]}].
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
            "model": .array(models.map { m in
                .object(["model": .string(m.model), "severity": comparisons(m.severity, ordinal: true),
                         "findings": .object(Dictionary(uniqueKeysWithValues: m.findings.map { ($0.0.csvName, comparisons($0.1, ordinal: false)) }))])
            }),
        ])
    }
}
