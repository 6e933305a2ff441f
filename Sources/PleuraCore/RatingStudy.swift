import Foundation

/// The analysis of a heatmap-rating study (Born et al. 2021; issue 10), computed from the
/// canonical rating rows, so `pleura report ratings`, `pleura stats` and anyone holding the
/// exported rating CSV get the same numbers (the tests recompute them with scipy, scikit-learn
/// and krippendorff from that CSV).
///
/// - Distributions (count, mean, sd, median, share positive, histogram) overall and per class
///   the map explains, method, model, highlighted pattern and rater.
/// - Agreement between raters on the same map of the same trial (unit = media, frame, model,
///   method, layer, target, heatmap hash, trial; ordered by heatmap hash, trial, model, method,
///   layer, target, media, frame): Krippendorff's ordinal α over all raters and
///   quadratic-weighted Cohen's κ per pair (categories −3…3), each with a percentile bootstrap
///   95 % CI over units (``bootstrapResamples`` resamples, SplitMix64 seeded with
///   ``bootstrapSeed`` for α and seed + k + 1 for the k-th pair; index = next() % n).
/// - Paired trials, per comparison ("gradcam vs layercam", by what differs between the two
///   maps): Wilcoxon signed-rank of first − second (scipy's defaults: zeros dropped, two-sided,
///   exact below 51 pairs without zeros or ties, else normal approximation with tie correction),
///   "which is better" counts and agreement between raters (share agreeing, Cohen's κ per
///   pair, Krippendorff's nominal α).
/// - Pattern rates: how often each pattern is highlighted, overall and per method, and how often
///   when the rater saw it in the frame.
///
/// ```swift
/// let study = RatingStudy(records: try RatingRecord.parseFile(text, file: "ratings.csv"))
/// study.agreement.alphaOrdinal?.value
/// study.numbers   // every figure as (section, group, statistic, value), the report's CSV
/// ```
public struct RatingStudy: Sendable {
    public static let bootstrapResamples = 1000
    public static let bootstrapSeed: UInt64 = 20_261_201

    /// A statistic with its percentile-bootstrap 95 % interval.
    public struct Estimate: Equatable, Sendable {
        public var value: Double
        public var low: Double?
        public var high: Double?
    }

    public struct Group: Equatable, Sendable {
        /// `all`, `class`, `method`, `model`, `pattern` or `rater`.
        public var dimension: String
        public var key: String
        public var summary: RatingSummary
    }

    public struct PairKappa: Equatable, Sendable {
        public var a: String, b: String
        public var n: Int
        public var quadraticKappa: Estimate?
    }

    public struct Agreement: Equatable, Sendable {
        /// Units rated by at least two raters.
        public var units: Int
        public var alphaOrdinal: Estimate?
        public var pairs: [PairKappa]
    }

    public struct BetterPair: Equatable, Sendable {
        public var a: String, b: String
        public var n: Int
        public var shareAgreeing: Double?
        public var cohenKappa: Double?
    }

    public struct Comparison: Equatable, Sendable {
        /// The two conditions, first < second.
        public var first: String, second: String
        public var pairs: Int
        public var meanFirst: Double?, meanSecond: Double?
        /// Pairs with a non-zero difference (what the test ranks).
        public var nonZero: Int
        public var wilcoxonW: Double?
        public var wilcoxonP: Double?
        public var betterFirst: Int, betterSecond: Int, betterEqual: Int
        /// Trials whose "better" was answered by at least two raters.
        public var betterUnits: Int
        public var betterAlphaNominal: Double?
        public var betterPairs: [BetterPair]
        public var label: String { "\(first) vs \(second)" }
    }

    public struct PatternRate: Equatable, Sendable {
        public var pattern: RatingPattern
        /// nil: over all methods.
        public var method: String?
        /// Rated maps where "highlighted" was asked.
        public var asked: Int
        public var highlighted: Int
        /// Of those, maps where the rater also saw the pattern in the frame.
        public var visible: Int
        public var highlightedWhenVisible: Int
        public var rate: Double? { asked == 0 ? nil : Double(highlighted) / Double(asked) }
        public var rateWhenVisible: Double? { visible == 0 ? nil : Double(highlightedWhenVisible) / Double(visible) }
    }

    public var raters: [String]
    public var groups: [Group]
    public var agreement: Agreement
    public var comparisons: [Comparison]
    public var patterns: [PatternRate]

    public var overall: RatingSummary { groups.first { $0.dimension == "all" }?.summary ?? RatingSummary([]) }

    public init(records: [RatingRecord]) {
        let rated = records.filter { $0.rating != nil }
        raters = Array(Set(rated.map(\.annotator))).sorted()

        // Distributions.
        func summaries(_ dimension: String, _ keys: (RatingRecord) -> [String]) -> [Group] {
            var values: [String: [Int]] = [:]
            for r in rated { for k in keys(r) { values[k, default: []].append(r.rating!.rawValue) } }
            return values.keys.sorted().map { Group(dimension: dimension, key: $0, summary: RatingSummary(values[$0]!)) }
        }
        groups = [Group(dimension: "all", key: "all", summary: RatingSummary(rated.map { $0.rating!.rawValue }))]
            + summaries("class") { [Self.className($0.target)] }
            + summaries("method") { [$0.method] }
            + summaries("model") { [$0.model] }
            + summaries("pattern") { r in (r.highlighted ?? []).sorted().map(\.rawValue) }
            + summaries("rater") { [$0.annotator] }

        // Agreement on ratings: units × raters, values −3…3.
        var unitRatings: [UnitKey: [String: Int]] = [:]
        for r in rated { unitRatings[UnitKey(r), default: [:]][r.annotator] = r.rating!.rawValue }
        let units = unitRatings.keys.sorted()
        let table = units.map { unitRatings[$0]! }
        agreement = Agreement(units: table.filter { $0.count >= 2 }.count,
                              alphaOrdinal: Self.alphaEstimate(table, raters: raters), pairs: [])
        var k = 0
        for (i, a) in raters.enumerated() {
            for b in raters[(i + 1)...] {
                let both = table.compactMap { u -> (Int, Int)? in
                    guard let x = u[a], let y = u[b] else { return nil }
                    return (x, y)
                }
                k += 1
                agreement.pairs.append(PairKappa(a: a, b: b, n: both.count,
                                                 quadraticKappa: Self.kappaEstimate(both, seed: Self.bootstrapSeed &+ UInt64(k))))
            }
        }

        // Paired trials.
        var trials: [String: [RatingRecord]] = [:]
        for r in records where r.slot != nil { trials[r.annotator + "\u{1}" + r.media + "\u{1}" + r.trial, default: []].append(r) }
        struct PairAnswer { var trial: String; var rater: String; var first: Int?; var second: Int?; var better: String? }
        var byComparison: [String: (first: String, second: String, answers: [PairAnswer])] = [:]
        for key in trials.keys.sorted() {
            let maps = trials[key]!
            guard maps.count == 2, let (x, y) = Self.conditions(maps[0], maps[1]) else { continue }
            let (first, second) = x < y ? (x, y) : (y, x)
            let firstRow = x < y ? maps[0] : maps[1], secondRow = x < y ? maps[1] : maps[0]
            var better: String? = nil
            if let choice = maps[0].better {
                better = choice == .equal ? "equal" : (choice.slot == firstRow.slot ? first : second)
            }
            let label = first + "\u{1}" + second
            byComparison[label, default: (first, second, [])].answers.append(PairAnswer(
                trial: firstRow.media + "\u{1}" + firstRow.trial, rater: firstRow.annotator,
                first: firstRow.rating?.rawValue, second: secondRow.rating?.rawValue, better: better))
        }
        comparisons = byComparison.keys.sorted().map { label in
            let (first, second, answers) = byComparison[label]!
            let rated = answers.compactMap { a -> (Int, Int)? in a.first.flatMap { f in a.second.map { (f, $0) } } }
            let test = Self.wilcoxon(rated.map { Double($0.0 - $0.1) })
            let mean = { (v: [Int]) -> Double? in v.isEmpty ? nil : Double(v.reduce(0, +)) / Double(v.count) }
            var c = Comparison(first: first, second: second, pairs: rated.count, meanFirst: mean(rated.map(\.0)),
                               meanSecond: mean(rated.map(\.1)), nonZero: test.n, wilcoxonW: test.w, wilcoxonP: test.p,
                               betterFirst: answers.filter { $0.better == first }.count,
                               betterSecond: answers.filter { $0.better == second }.count,
                               betterEqual: answers.filter { $0.better == "equal" }.count,
                               betterUnits: 0, betterAlphaNominal: nil, betterPairs: [])
            var choices: [String: [String: String]] = [:]   // trial → rater → choice
            for a in answers { if let b = a.better { choices[a.trial, default: [:]][a.rater] = b } }
            let trialKeys = choices.keys.sorted()
            let categories = [first, second, "equal"]
            c.betterUnits = choices.values.filter { $0.count >= 2 }.count
            let counts = trialKeys.flatMap { t in categories.map { cat in choices[t]!.values.filter { $0 == cat }.count } }
            c.betterAlphaNominal = PleuraCore.Agreement.krippendorffAlpha(valueCounts: counts, values: [0, 1, 2], level: .nominal)
            let who = Array(Set(choices.values.flatMap(\.keys))).sorted()
            for (i, a) in who.enumerated() {
                for b in who[(i + 1)...] {
                    let both = trialKeys.compactMap { t -> (String, String)? in
                        guard let x = choices[t]![a], let y = choices[t]![b] else { return nil }
                        return (x, y)
                    }
                    c.betterPairs.append(BetterPair(
                        a: a, b: b, n: both.count,
                        shareAgreeing: both.isEmpty ? nil : Double(both.filter { $0.0 == $0.1 }.count) / Double(both.count),
                        cohenKappa: both.isEmpty ? nil : PleuraCore.Agreement.cohenKappa(both.map(\.0), both.map(\.1))))
                }
            }
            return c
        }

        // Pattern rates.
        let methods = Array(Set(rated.map(\.method))).sorted()
        var rates: [PatternRate] = []
        for p in RatingPattern.allCases {
            for method in [nil] + methods.map(Optional.some) {
                var rate = PatternRate(pattern: p, method: method, asked: 0, highlighted: 0, visible: 0, highlightedWhenVisible: 0)
                for r in rated where method == nil || r.method == method {
                    guard let h = r.highlighted else { continue }
                    rate.asked += 1
                    if h.contains(p) { rate.highlighted += 1 }
                    if let v = r.visible, v.contains(p) {
                        rate.visible += 1
                        if h.contains(p) { rate.highlightedWhenVisible += 1 }
                    }
                }
                if rate.asked > 0 { rates.append(rate) }
            }
        }
        patterns = rates
    }

    /// `diagnosis/covid` → `covid` (a target without a head is its own class).
    public static func className(_ target: String) -> String {
        target.split(separator: "/").last.map(String.init) ?? target
    }

    /// What tells the two maps of a pair apart, as two condition names (nil when nothing does).
    static func conditions(_ x: RatingRecord, _ y: RatingRecord) -> (String, String)? {
        var a: [String] = [], b: [String] = []
        if x.method != y.method { a.append(x.method); b.append(y.method) }
        if x.model != y.model { a.append("model " + x.model.prefix(12)); b.append("model " + y.model.prefix(12)) }
        if x.layer != y.layer { a.append(x.layer); b.append(y.layer) }
        if x.target != y.target { a.append(x.target); b.append(y.target) }
        if a.isEmpty { return nil }
        let (p, q) = (a.joined(separator: " · "), b.joined(separator: " · "))
        return p == q ? nil : (p, q)
    }

    struct UnitKey: Hashable, Comparable {
        var media: String, frame: Int, model: String, method: String, layer: String, target: String, heatmap: String, trial: String
        init(_ r: RatingRecord) {
            media = r.media; frame = r.frame ?? -1; model = r.model; method = r.method; layer = r.layer
            target = r.target; heatmap = r.heatmapSHA256; trial = r.trial
        }
        /// Heatmap hash first, so the order (and so the bootstrap's resamples) does not depend
        /// on the folder media paths are written relative to.
        static func < (x: UnitKey, y: UnitKey) -> Bool {
            let a = (x.heatmap, x.trial, x.model, x.method, x.layer, x.target), b = (y.heatmap, y.trial, y.model, y.method, y.layer, y.target)
            return a < b || (a == b && (x.media, x.frame) < (y.media, y.frame))
        }
    }

    // MARK: - Estimates with bootstrap intervals

    static func alpha(_ units: [[String: Int]]) -> Double? {
        var counts = [Int](repeating: 0, count: units.count * 7)
        for (u, unit) in units.enumerated() { for v in unit.values { counts[u * 7 + v + 3] += 1 } }
        return PleuraCore.Agreement.krippendorffAlpha(valueCounts: counts, values: (-3...3).map(Double.init), level: .ordinal)
    }

    static func alphaEstimate(_ units: [[String: Int]], raters: [String]) -> Estimate? {
        guard let value = alpha(units) else { return nil }
        var rng = SplitMix64(seed: bootstrapSeed)
        let n = units.count
        var values: [Double] = []
        for _ in 0..<bootstrapResamples {
            let sample = (0..<n).map { _ in units[Int(rng.next() % UInt64(n))] }
            if let a = alpha(sample), a.isFinite { values.append(a) }
        }
        return Estimate(value: value, low: percentile(values, 2.5), high: percentile(values, 97.5))
    }

    static func kappa(_ pairs: [(Int, Int)]) -> Double? {
        guard !pairs.isEmpty else { return nil }
        return PleuraCore.Agreement.cohenKappa(pairs.map(\.0), pairs.map(\.1), categories: Array(-3...3), weighting: .quadratic)
    }

    static func kappaEstimate(_ pairs: [(Int, Int)], seed: UInt64) -> Estimate? {
        guard let value = kappa(pairs) else { return nil }
        var rng = SplitMix64(seed: seed)
        let n = pairs.count
        var values: [Double] = []
        for _ in 0..<bootstrapResamples {
            let sample = (0..<n).map { _ in pairs[Int(rng.next() % UInt64(n))] }
            if let k = kappa(sample), k.isFinite { values.append(k) }
        }
        return Estimate(value: value, low: percentile(values, 2.5), high: percentile(values, 97.5))
    }

    /// numpy's default percentile (linear interpolation between closest ranks).
    static func percentile(_ values: [Double], _ q: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let s = values.sorted()
        let pos = q / 100 * Double(s.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, s.count - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - Double(lo))
    }

    // MARK: - Wilcoxon signed-rank

    /// scipy.stats.wilcoxon(d) with its defaults (scipy 1.17, `method="auto"`): zeros dropped
    /// ("wilcox"), two-sided, statistic min(R+, R−). With at most 50 differences: the exact
    /// distribution when there are no ties and no zeros, else (at most 13 differences) the exact
    /// sign-flip permutation distribution of R+; otherwise the normal approximation with the tie
    /// correction and no continuity correction.
    public static func wilcoxon(_ differences: [Double]) -> (n: Int, w: Double?, p: Double?) {
        let d = differences.filter { $0 != 0 }
        let n = d.count
        guard n > 0 else { return (0, nil, nil) }
        let ranks = averageRanks(d.map(abs))
        var plus = 0.0, minus = 0.0
        for (x, r) in zip(d, ranks) { if x > 0 { plus += r } else { minus += r } }
        let w = min(plus, minus)
        let hasTies = Set(d.map(abs)).count < n
        let zeros = differences.count - n
        if differences.count <= 50 && !hasTies && zeros == 0 {
            // Counts of subsets of ranks 1…n by rank sum.
            let maxSum = n * (n + 1) / 2
            var counts = [Double](repeating: 0, count: maxSum + 1)
            counts[0] = 1
            for k in 1...n { for s in stride(from: maxSum, through: k, by: -1) { counts[s] += counts[s - k] } }
            let total = pow(2.0, Double(n))
            let rPlus = Int(plus.rounded())
            let cdf = counts[0...rPlus].reduce(0, +) / total
            let sf = counts[rPlus...].reduce(0, +) / total
            return (n, w, min(1, 2 * min(cdf, sf)))
        }
        if differences.count <= 13 {
            // Every sign assignment of the non-zero differences (zeros change nothing).
            let tolerance = abs(plus) * 1e-14 * 100
            var less = 0, greater = 0
            let total = 1 << n
            for mask in 0..<total {
                var r = 0.0
                for i in 0..<n where mask & (1 << i) != 0 { r += ranks[i] }
                if r <= plus + tolerance { less += 1 }
                if r >= plus - tolerance { greater += 1 }
            }
            return (n, w, min(1, 2 * Double(min(less, greater)) / Double(total)))
        }
        let mean = Double(n * (n + 1)) / 4
        var variance = Double(n * (n + 1) * (2 * n + 1)) / 24
        var tieGroups: [Double: Int] = [:]
        for x in d.map(abs) { tieGroups[x, default: 0] += 1 }
        for t in tieGroups.values where t > 1 { variance -= Double(t * t * t - t) / 48 }
        guard variance > 0 else { return (n, w, nil) }
        let z = (w - mean) / variance.squareRoot()
        return (n, w, min(1, erfc(abs(z) / 2.0.squareRoot())))
    }

    /// Ranks 1…n with ties given their average rank (scipy.stats.rankdata).
    static func averageRanks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && values[order[j + 1]] == values[order[i]] { j += 1 }
            let r = Double(i + j + 2) / 2
            for k in i...j { ranks[order[k]] = r }
            i = j + 1
        }
        return ranks
    }

    // MARK: - Every number, for the report's CSV

    /// Every figure of the study as rows (section, group, statistic, value); value "" where a
    /// statistic is undefined. The report's CSV and `pleura stats` print exactly these.
    public var numbers: [(section: String, group: String, statistic: String, value: String)] {
        var out: [(String, String, String, String)] = []
        func num(_ d: Double?) -> String { d.map { String($0) } ?? "" }
        for g in groups {
            let name = g.dimension == "all" ? "all" : "\(g.dimension)=\(g.key)"
            let s = g.summary
            out += [("distribution", name, "n", String(s.count)), ("distribution", name, "mean", num(s.mean)),
                    ("distribution", name, "sd", num(s.sd)), ("distribution", name, "median", num(s.median)),
                    ("distribution", name, "share_positive", num(s.sharePositive))]
            for (i, c) in s.histogram.enumerated() { out.append(("distribution", name, "count_\(i - 3)", String(c))) }
        }
        out.append(("agreement", "all", "units", String(agreement.units)))
        out.append(("agreement", "all", "krippendorff_alpha_ordinal", num(agreement.alphaOrdinal?.value)))
        out.append(("agreement", "all", "krippendorff_alpha_ordinal_ci_low", num(agreement.alphaOrdinal?.low)))
        out.append(("agreement", "all", "krippendorff_alpha_ordinal_ci_high", num(agreement.alphaOrdinal?.high)))
        for p in agreement.pairs {
            let name = "pair=\(p.a)|\(p.b)"
            out += [("agreement", name, "n", String(p.n)), ("agreement", name, "quadratic_kappa", num(p.quadraticKappa?.value)),
                    ("agreement", name, "quadratic_kappa_ci_low", num(p.quadraticKappa?.low)),
                    ("agreement", name, "quadratic_kappa_ci_high", num(p.quadraticKappa?.high))]
        }
        for c in comparisons {
            let name = "comparison=\(c.label)"
            out += [("paired", name, "pairs", String(c.pairs)), ("paired", name, "mean_first", num(c.meanFirst)),
                    ("paired", name, "mean_second", num(c.meanSecond)), ("paired", name, "nonzero", String(c.nonZero)),
                    ("paired", name, "wilcoxon_w", num(c.wilcoxonW)), ("paired", name, "wilcoxon_p", num(c.wilcoxonP)),
                    ("paired", name, "better_first", String(c.betterFirst)), ("paired", name, "better_second", String(c.betterSecond)),
                    ("paired", name, "better_equal", String(c.betterEqual)), ("paired", name, "better_units", String(c.betterUnits)),
                    ("paired", name, "better_krippendorff_alpha_nominal", num(c.betterAlphaNominal))]
            for p in c.betterPairs {
                let pair = "\(name) pair=\(p.a)|\(p.b)"
                out += [("paired", pair, "better_n", String(p.n)), ("paired", pair, "better_share_agreeing", num(p.shareAgreeing)),
                        ("paired", pair, "better_cohen_kappa", num(p.cohenKappa))]
            }
        }
        for p in patterns {
            let name = "pattern=\(p.pattern.rawValue)" + (p.method.map { " method=\($0)" } ?? "")
            out += [("patterns", name, "asked", String(p.asked)), ("patterns", name, "highlighted", String(p.highlighted)),
                    ("patterns", name, "rate", num(p.rate)), ("patterns", name, "visible", String(p.visible)),
                    ("patterns", name, "highlighted_when_visible", String(p.highlightedWhenVisible)),
                    ("patterns", name, "rate_when_visible", num(p.rateWhenVisible))]
        }
        return out
    }

    /// ``numbers`` as a CSV file (`section,group,statistic,value`).
    public var numbersCSV: String {
        CSV.formatRow(["section", "group", "statistic", "value"]) + numbers.map { CSV.formatRow([$0.0, $0.1, $0.2, $0.3]) }.joined()
    }
}
