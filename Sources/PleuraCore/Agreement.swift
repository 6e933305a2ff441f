/// Inter-rater agreement statistics, computed exactly as the reference implementations do
/// (scikit-learn's `cohen_kappa_score`, statsmodels' `fleiss_kappa`, the `krippendorff` package),
/// so figures from Pleura and from a Python notebook agree to 1e-9 (the tests hold both).
///
/// Every function returns nil where the statistic is undefined (no pairs, or no variation so
/// that expected disagreement is 0) rather than a NaN that would poison a JSON report.
///
/// ```swift
/// Agreement.cohenKappa([0, 1, 2, 3], [0, 1, 3, 3], categories: [0, 1, 2, 3], weighting: .quadratic)
/// Agreement.fleissKappa(ratings: [[0, 0, 1], [1, 1, nil], [2, 2, 2]])        // units × raters
/// Agreement.krippendorffAlpha([[1, 2, nil], [1, 3, 3]], level: .ordinal)     // raters × units
/// ```
public enum Agreement {
    /// Disagreement weights of Cohen's kappa, on category positions (as scikit-learn): `linear`
    /// is |i − j|, `quadratic` (i − j)².
    public enum Weighting: String, Sendable, CaseIterable {
        case unweighted, linear, quadratic
    }

    /// Krippendorff's levels of measurement (the metric δ² between two values).
    public enum Level: String, Sendable, CaseIterable {
        case nominal, ordinal, interval
    }

    // MARK: - Cohen

    /// Cohen's kappa of two raters' paired labels. `categories` fixes the category list (and the
    /// positions weights use; pairs with a value outside it are ignored, as scikit-learn's
    /// `labels=`); by default the sorted union of the values seen.
    public static func cohenKappa<T: Hashable & Comparable>(_ a: [T], _ b: [T], categories: [T]? = nil,
                                                             weighting: Weighting = .unweighted) -> Double? {
        precondition(a.count == b.count, "cohenKappa needs paired labels")
        let classes = categories ?? Array(Set(a).union(b)).sorted()
        guard !classes.isEmpty else { return nil }
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var confusion = [[Double]](repeating: [Double](repeating: 0, count: classes.count), count: classes.count)
        for (x, y) in zip(a, b) {
            guard let i = index[x], let j = index[y] else { continue }
            confusion[i][j] += 1
        }
        return cohenKappa(confusion: confusion, weighting: weighting)
    }

    /// Cohen's kappa from a k×k confusion matrix (rows: rater A, columns: rater B).
    public static func cohenKappa(confusion: [[Double]], weighting: Weighting = .unweighted) -> Double? {
        let k = confusion.count
        guard k > 0 else { return nil }
        var rowSums = [Double](repeating: 0, count: k), colSums = [Double](repeating: 0, count: k)
        for i in 0..<k { for j in 0..<k { rowSums[i] += confusion[i][j]; colSums[j] += confusion[i][j] } }
        let total = colSums.reduce(0, +)
        guard total > 0 else { return nil }
        var observed = 0.0, expected = 0.0
        for i in 0..<k {
            for j in 0..<k {
                let w: Double
                switch weighting {
                case .unweighted: w = i == j ? 0 : 1
                case .linear: w = Double(abs(i - j))
                case .quadratic: w = Double((i - j) * (i - j))
                }
                observed += w * confusion[i][j]
                // scikit-learn: expected = outer(sum0, sum1) / total, i.e. colSums[i] * rowSums[j].
                expected += w * (colSums[i] * rowSums[j] / total)
            }
        }
        guard expected != 0 else { return nil }
        return 1 - observed / expected
    }

    // MARK: - Fleiss

    /// Fleiss' kappa from a subjects × categories table of counts (how many raters put subject i
    /// in category j). Subjects rated by fewer than two raters are skipped. When every subject has
    /// the same number of raters this is statsmodels' `fleiss_kappa(table)`; with differing
    /// numbers it is the usual generalisation (per-subject agreement over that subject's pairs,
    /// category shares over all ratings).
    public static func fleissKappa(counts: [[Int]]) -> Double? {
        guard let k = counts.first?.count, k > 0 else { return nil }
        return fleissKappa(flatCounts: counts.flatMap { $0 }, categories: k)
    }

    /// ``fleissKappa(counts:)`` over a flat table: subject i's count of category j at
    /// `flatCounts[i * categories + j]` (no per-subject arrays, for a million labels).
    public static func fleissKappa(flatCounts: [Int], categories k: Int) -> Double? {
        guard k > 0, flatCounts.count % k == 0 else { return nil }
        var categoryTotals = [Double](repeating: 0, count: k)
        var agreementSum = 0.0, totalRatings = 0.0
        var subjects = 0
        flatCounts.withUnsafeBufferPointer { c in
            for start in stride(from: 0, to: c.count, by: k) {
                var n = 0, squares = 0
                for j in 0..<k { let x = c[start + j]; n += x; squares += x * x }
                guard n >= 2 else { continue }
                for j in 0..<k { categoryTotals[j] += Double(c[start + j]) }
                agreementSum += Double(squares - n) / Double(n * (n - 1))
                totalRatings += Double(n)
                subjects += 1
            }
        }
        guard subjects > 0 else { return nil }
        let meanAgreement = agreementSum / Double(subjects)
        let chance = categoryTotals.reduce(0) { $0 + ($1 / totalRatings) * ($1 / totalRatings) }
        guard chance != 1 else { return nil }
        return (meanAgreement - chance) / (1 - chance)
    }

    /// Fleiss' kappa from units × raters labels (nil: that rater did not label that unit).
    public static func fleissKappa<T: Hashable & Comparable>(ratings: [[T?]], categories: [T]? = nil) -> Double? {
        let classes = categories ?? Array(Set(ratings.joined().compactMap { $0 })).sorted()
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let table = ratings.map { unit -> [Int] in
            var row = [Int](repeating: 0, count: classes.count)
            for case let v? in unit { if let i = index[v] { row[i] += 1 } }
            return row
        }
        return fleissKappa(counts: table)
    }

    // MARK: - Krippendorff

    /// Krippendorff's alpha of a raters × units matrix with missing values (nil), as the
    /// `krippendorff` package computes it: coincidences within units that have at least two
    /// values, expected coincidences from the pooled value frequencies, and the level's metric
    /// (ordinal: ranks from the cumulative frequencies, with half of each end's frequency).
    public static func krippendorffAlpha(_ data: [[Double?]], level: Level) -> Double? {
        guard let units = data.first?.count else { return nil }
        precondition(data.allSatisfy { $0.count == units }, "krippendorffAlpha needs a rectangular raters × units matrix")
        var unitValues: [[Double]] = []
        unitValues.reserveCapacity(units)
        for u in 0..<units {
            var values: [Double] = []
            for rater in data { if let v = rater[u] { values.append(v) } }
            unitValues.append(values)
        }
        return krippendorffAlpha(units: unitValues, level: level)
    }

    /// Krippendorff's alpha from the values each unit received (any number per unit).
    public static func krippendorffAlpha(units: [[Double]], level: Level) -> Double? {
        let domain = Array(Set(units.joined())).sorted()
        guard domain.count > 0 else { return nil }
        let index = Dictionary(uniqueKeysWithValues: domain.enumerated().map { ($1, $0) })
        var counts = [Int](repeating: 0, count: units.count * domain.count)
        for (u, values) in units.enumerated() { for x in values { counts[u * domain.count + index[x]!] += 1 } }
        return krippendorffAlpha(valueCounts: counts, values: domain, level: level)
    }

    /// Krippendorff's alpha from value counts, as the `krippendorff` package's `value_counts`
    /// input: unit u gave value `values[v]` `valueCounts[u * values.count + v]` times. `values`
    /// must be sorted ascending (the ordinal metric ranks by position); values no unit pairs
    /// change nothing.
    public static func krippendorffAlpha(valueCounts: [Int], values domain: [Double], level: Level) -> Double? {
        let v = domain.count
        guard v > 0, valueCounts.count % v == 0 else { return nil }
        var o = [Double](repeating: 0, count: v * v)
        valueCounts.withUnsafeBufferPointer { c in
            for start in stride(from: 0, to: c.count, by: v) {
                var m = 0
                for j in 0..<v { m += c[start + j] }
                guard m >= 2 else { continue }
                let scale = 1 / Double(m - 1)
                for a in 0..<v where c[start + a] > 0 {
                    let ca = Double(c[start + a])
                    for b in 0..<v where c[start + b] > 0 {
                        o[a * v + b] += (ca * Double(c[start + b]) - (a == b ? ca : 0)) * scale
                    }
                }
            }
        }
        var nv = [Double](repeating: 0, count: v)
        for c in 0..<v { for k in 0..<v { nv[k] += o[c * v + k] } }
        let n = nv.reduce(0, +)
        guard n > 1 else { return nil }
        // Cumulative frequencies for the ordinal metric.
        var cumulative = [Double](repeating: 0, count: v + 1)
        for i in 0..<v { cumulative[i + 1] = cumulative[i] + nv[i] }
        func delta(_ c: Int, _ k: Int) -> Double {
            switch level {
            case .nominal: return c == k ? 0 : 1
            case .interval: let d = domain[c] - domain[k]; return d * d
            case .ordinal:
                let (lo, hi) = c <= k ? (c, k) : (k, c)
                let s = cumulative[hi + 1] - cumulative[lo] - (nv[lo] + nv[hi]) / 2
                return s * s
            }
        }
        var observed = 0.0, expected = 0.0
        for c in 0..<v {
            for k in 0..<v {
                let d = delta(c, k)
                observed += o[c * v + k] * d
                expected += (nv[c] * nv[k] - (c == k ? nv[c] : 0)) / (n - 1) * d
            }
        }
        guard expected != 0 else { return nil }
        return 1 - observed / expected
    }
}

// MARK: - Confusion matrices

/// Counts of (truth, prediction) pairs over a fixed class list, with per-class metrics.
///
/// ```swift
/// let cm = ConfusionMatrix(truth: ["covid", "regular"], predicted: ["covid", "covid"],
///                          classes: ["covid", "pneumonia", "regular"])
/// cm.metrics(for: 0).sensitivity   // 1.0
/// cm.accuracy                      // 0.5
/// ```
public struct ConfusionMatrix<Class: Hashable & Sendable>: Sendable {
    public let classes: [Class]
    /// counts[truth][predicted].
    public private(set) var counts: [[Int]]

    public init(classes: [Class]) {
        self.classes = classes
        counts = [[Int]](repeating: [Int](repeating: 0, count: classes.count), count: classes.count)
    }

    /// Pairs whose truth or prediction is not in `classes` are ignored.
    public init(truth: [Class], predicted: [Class], classes: [Class]) {
        precondition(truth.count == predicted.count, "ConfusionMatrix needs paired labels")
        self.init(classes: classes)
        for (t, p) in zip(truth, predicted) { add(truth: t, predicted: p) }
    }

    public mutating func add(truth: Class, predicted: Class) {
        guard let i = classes.firstIndex(of: truth), let j = classes.firstIndex(of: predicted) else { return }
        counts[i][j] += 1
    }

    public var total: Int { counts.joined().reduce(0, +) }

    /// Share of pairs on the diagonal; nil when empty.
    public var accuracy: Double? {
        let t = total
        return t == 0 ? nil : Double(classes.indices.reduce(0) { $0 + counts[$1][$1] }) / Double(t)
    }

    /// One-vs-rest metrics of class `index`.
    public func metrics(for index: Int) -> ClassMetrics {
        let tp = counts[index][index]
        let fn = counts[index].reduce(0, +) - tp
        let fp = counts.reduce(0) { $0 + $1[index] } - tp
        let tn = total - tp - fn - fp
        return ClassMetrics(truePositives: tp, falsePositives: fp, falseNegatives: fn, trueNegatives: tn)
    }

    public var perClass: [ClassMetrics] { classes.indices.map(metrics(for:)) }
}

/// One-vs-rest counts and the metrics the field reports (nil where the denominator is 0).
public struct ClassMetrics: Equatable, Sendable {
    public var truePositives: Int
    public var falsePositives: Int
    public var falseNegatives: Int
    public var trueNegatives: Int

    public init(truePositives: Int, falsePositives: Int, falseNegatives: Int, trueNegatives: Int) {
        self.truePositives = truePositives; self.falsePositives = falsePositives
        self.falseNegatives = falseNegatives; self.trueNegatives = trueNegatives
    }

    private static func ratio(_ a: Int, _ b: Int) -> Double? { b == 0 ? nil : Double(a) / Double(b) }
    /// Items of this class in the truth.
    public var support: Int { truePositives + falseNegatives }
    /// Recall: TP / (TP + FN).
    public var sensitivity: Double? { Self.ratio(truePositives, truePositives + falseNegatives) }
    /// TN / (TN + FP).
    public var specificity: Double? { Self.ratio(trueNegatives, trueNegatives + falsePositives) }
    /// TP / (TP + FP).
    public var precision: Double? { Self.ratio(truePositives, truePositives + falsePositives) }
    /// 2·TP / (2·TP + FP + FN) = 2·sens·prec / (sens + prec).
    public var f1: Double? { Self.ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives) }
}

// MARK: - Rating summaries

/// Summary of heatmap ratings (−3…3): count, mean, sample standard deviation (n − 1), median
/// and a histogram with one bin per rating value.
///
/// ```swift
/// let s = RatingSummary([-1, 2, 3, 3])
/// s.mean        // 1.75
/// s.histogram   // [0, 0, 1, 0, 0, 1, 2]   (counts of −3 … 3)
/// ```
public struct RatingSummary: Equatable, Sendable {
    public var count: Int
    public var mean: Double?
    /// Sample standard deviation (divides by n − 1); nil for fewer than two ratings.
    public var sd: Double?
    public var median: Double?
    /// Counts of −3, −2, −1, 0, 1, 2, 3.
    public var histogram: [Int]
    /// Share of ratings above 0 (the map helped); nil when there are none.
    public var sharePositive: Double? { count == 0 ? nil : Double(histogram[4...].reduce(0, +)) / Double(count) }

    public init(_ ratings: [Int]) {
        count = ratings.count
        histogram = [Int](repeating: 0, count: 7)
        for r in ratings where (-3...3).contains(r) { histogram[r + 3] += 1 }
        guard !ratings.isEmpty else { mean = nil; sd = nil; median = nil; return }
        let m = Double(ratings.reduce(0, +)) / Double(ratings.count)
        mean = m
        sd = ratings.count < 2 ? nil
            : (ratings.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(ratings.count - 1)).squareRoot()
        let sorted = ratings.sorted()
        let mid = sorted.count / 2
        median = sorted.count % 2 == 1 ? Double(sorted[mid]) : Double(sorted[mid - 1] + sorted[mid]) / 2
    }
}
