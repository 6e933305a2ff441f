import Foundation

/// A patient's exam as the store keeps it: pseudonyms only (HMAC of the identifiers; empty study
/// when the source gives none).
public struct ExamKey: Hashable, Comparable, Sendable {
    public var patient: String
    public var study: String
    public init(patient: String, study: String?) { self.patient = patient; self.study = study ?? "" }
    public static func < (a: ExamKey, b: ExamKey) -> Bool { (a.patient, a.study) < (b.patient, b.study) }
    /// What screens show: the first 8 hex digits of each pseudonym.
    public var shortName: String { "P-" + patient.prefix(8) + (study.isEmpty ? "" : "/S-" + study.prefix(6)) }
}

/// One rater's answer on one item of a zone: the input of every patient score.
public struct ZoneItem: Equatable, Sendable {
    public var exam: ExamKey
    public var zone: String
    public var media: String
    /// -1: the whole clip.
    public var frame: Int
    public var rater: String
    /// ICLUS severity 0–3 (labels, or the model's predicted class).
    public var severity: Int?
    public var huClass: HuFrameClass?
    public init(exam: ExamKey, zone: String, media: String, frame: Int, rater: String, severity: Int?, huClass: HuFrameClass?) {
        self.exam = exam; self.zone = zone; self.media = media; self.frame = frame; self.rater = rater
        self.severity = severity; self.huClass = huClass
    }
}

/// One rater's score of one zone of one exam.
public struct ZoneScore: Equatable, Sendable {
    public var exam: ExamKey
    public var zone: String
    public var rater: String
    /// The worst severity over the zone's clips (frames and whole clips), nil when none scored.
    public var worstSeverity: Int?
    /// The worst Hu class's score over the zone's frames, and their mean.
    public var huWorst: Double?
    public var huMean: Double?
    public var huFrames: Int
}

/// One rater's patient score of one exam.
public struct PatientScore: Equatable, Sendable {
    public var exam: ExamKey
    public var rater: String
    /// The 14-zone LUS score: the sum of each zone's worst severity over the zones scored; zones
    /// without a score add nothing, so with ``zonesScored`` < ``zonesTotal`` it is a partial sum.
    public var lusScore: Int?
    public var zonesScored: Int
    /// The protocol's zone count, nil when the exam's protocol is unknown.
    public var zonesTotal: Int?
    /// Hu et al.: the mean of the exam's frame scores (all zones pooled).
    public var huMean: Double?
    public var huFrames: Int
}

public enum PatientScoring {
    /// Zone scores per (exam, zone, rater), sorted.
    public static func zoneScores(_ items: [ZoneItem]) -> [ZoneScore] {
        struct Key: Hashable { var exam: ExamKey; var zone: String; var rater: String }
        var groups: [Key: [ZoneItem]] = [:]
        for i in items { groups[Key(exam: i.exam, zone: i.zone, rater: i.rater), default: []].append(i) }
        return groups.map { key, list in
            let hu = list.filter { $0.frame >= 0 }.compactMap { $0.huClass?.score }
            return ZoneScore(exam: key.exam, zone: key.zone, rater: key.rater, worstSeverity: list.compactMap(\.severity).max(),
                             huWorst: hu.max(), huMean: hu.isEmpty ? nil : hu.reduce(0, +) / Double(hu.count), huFrames: hu.count)
        }.sorted { ($0.exam, $0.rater, $0.zone) < ($1.exam, $1.rater, $1.zone) }
    }

    /// Patient scores per (exam, rater), sorted; `zonesTotal` gives an exam's protocol size.
    public static func patientScores(_ items: [ZoneItem], zonesTotal: (ExamKey) -> Int? = { _ in nil }) -> [PatientScore] {
        struct Key: Hashable { var exam: ExamKey; var rater: String }
        var zones: [Key: [ZoneScore]] = [:]
        for z in zoneScores(items) { zones[Key(exam: z.exam, rater: z.rater), default: []].append(z) }
        var hu: [Key: [Double]] = [:]
        for i in items where i.frame >= 0 { if let s = i.huClass?.score { hu[Key(exam: i.exam, rater: i.rater), default: []].append(s) } }
        return zones.map { key, list in
            let worst = list.compactMap(\.worstSeverity)
            let frames = hu[key] ?? []
            return PatientScore(exam: key.exam, rater: key.rater, lusScore: worst.isEmpty ? nil : worst.reduce(0, +),
                                zonesScored: worst.count, zonesTotal: zonesTotal(key.exam),
                                huMean: frames.isEmpty ? nil : frames.reduce(0, +) / Double(frames.count), huFrames: frames.count)
        }.sorted { ($0.exam, $0.rater) < ($1.exam, $1.rater) }
    }
}

/// Patient-level agreement of one scoring schema: quadratic-weighted Cohen's kappa on zone scores
/// and ICC(2,1) on patient scores, per pair of raters and (ICC) over all of them.
public struct PatientAgreement: Equatable, Sendable {
    public struct Pair: Equatable, Sendable {
        public var a: String
        public var b: String
        /// Zones both scored, and their quadratic kappa (categories: the schema's score values).
        public var zones: Int
        public var zoneKappa: Double?
        /// Exams both scored, and the ICC(2,1) of their patient scores.
        public var exams: Int
        public var icc: Double?
    }
    /// `lus` (ICLUS zone worst 0–3, patient sum) or `hu6` (zone worst class score, patient mean).
    public var schema: String
    public var pairs: [Pair]
    /// ICC(2,1) over the exams every rater scored.
    public var exams: Int
    public var raters: [String]
    public var icc: Double?

    /// Agreement of every rater with scores (annotators and models alike).
    public static func compute(schema: String, zones: [ZoneScore], patients: [PatientScore]) -> PatientAgreement {
        let hu = schema == "hu6"
        func zoneValue(_ z: ZoneScore) -> Double? { hu ? z.huWorst : z.worstSeverity.map(Double.init) }
        func patientValue(_ p: PatientScore) -> Double? { hu ? p.huMean : p.lusScore.map(Double.init) }
        let categories = hu ? HuFrameClass.allCases.map(\.score) : [0, 1, 2, 3]
        var zoneByRater: [String: [String: Double]] = [:]
        for z in zones { if let v = zoneValue(z) { zoneByRater[z.rater, default: [:]]["\(z.exam.patient)|\(z.exam.study)|\(z.zone)"] = v } }
        var patientByRater: [String: [ExamKey: Double]] = [:]
        for p in patients { if let v = patientValue(p) { patientByRater[p.rater, default: [:]][p.exam] = v } }
        let raters = Set(zoneByRater.keys).union(patientByRater.keys).sorted()
        var pairs: [Pair] = []
        for (i, a) in raters.enumerated() {
            for b in raters[(i + 1)...] {
                let za = zoneByRater[a] ?? [:], zb = zoneByRater[b] ?? [:]
                let units = za.keys.filter { zb[$0] != nil }.sorted()
                let kappa = units.isEmpty ? nil : Agreement.cohenKappa(units.map { za[$0]! }, units.map { zb[$0]! },
                                                                       categories: categories, weighting: .quadratic)
                let pa = patientByRater[a] ?? [:], pb = patientByRater[b] ?? [:]
                let exams = pa.keys.filter { pb[$0] != nil }.sorted()
                pairs.append(Pair(a: a, b: b, zones: units.count, zoneKappa: kappa, exams: exams.count,
                                  icc: Agreement.icc21(exams.map { [pa[$0]!, pb[$0]!] })))
            }
        }
        let allExams = Set(patientByRater.values.flatMap(\.keys)).filter { e in raters.allSatisfy { patientByRater[$0]?[e] != nil } }.sorted()
        let matrix = allExams.map { e in raters.map { patientByRater[$0]![e]! } }
        return PatientAgreement(schema: schema, pairs: pairs, exams: allExams.count, raters: raters,
                                icc: raters.count >= 2 ? Agreement.icc21(matrix) : nil)
    }
}

extension Agreement {
    /// ICC(2,1) of Shrout & Fleiss (1979), "two-way random effects, absolute agreement, single
    /// rater" (McGraw & Wong 1996: ICC(A,1); pingouin's `ICC2`): rows are subjects (exams),
    /// columns raters, no missing cells. nil with fewer than 2 subjects or raters, or no variance.
    public static func icc21(_ rows: [[Double]]) -> Double? {
        let n = rows.count
        guard n >= 2, let k = rows.first?.count, k >= 2, rows.allSatisfy({ $0.count == k }) else { return nil }
        let grand = rows.joined().reduce(0, +) / Double(n * k)
        let rowMeans = rows.map { $0.reduce(0, +) / Double(k) }
        let colMeans = (0..<k).map { j in rows.map { $0[j] }.reduce(0, +) / Double(n) }
        let ssTotal = rows.joined().map { ($0 - grand) * ($0 - grand) }.reduce(0, +)
        let ssRows = Double(k) * rowMeans.map { ($0 - grand) * ($0 - grand) }.reduce(0, +)
        let ssCols = Double(n) * colMeans.map { ($0 - grand) * ($0 - grand) }.reduce(0, +)
        let ssError = ssTotal - ssRows - ssCols
        let msr = ssRows / Double(n - 1), msc = ssCols / Double(k - 1)
        let mse = ssError / Double((n - 1) * (k - 1))
        let denominator = msr + Double(k - 1) * mse + Double(k) * (msc - mse) / Double(n)
        guard denominator.isFinite, abs(denominator) > 1e-12 else { return nil }
        return (msr - mse) / denominator
    }
}
