import Testing
import PleuraCore

// Reference values: computed by Scripts/agreement_reference.py in a throwaway venv with
// scikit-learn 1.9.1 (`cohen_kappa_score`), statsmodels 0.15.0 (`fleiss_kappa` on
// `aggregate_raters`) and the `krippendorff` package (`krippendorff.alpha`), printed with repr()
// and pasted here. The data sets below are the script's (seeded) output. Published worked examples
// are cited beside their tests. Everything must agree to 1e-9.

private let tolerance = 1e-9

private func close(_ a: Double?, _ b: Double) -> Bool {
    guard let a else { return false }
    return abs(a - b) <= tolerance
}

private let cohenA = [3, 1, 1, 0, 3, 1, 3, 1, 3, 3, 3, 0, 2, 2, 3, 3, 3, 1, 0, 2, 1, 0, 2, 1, 0, 3, 3, 0, 1, 1, 1, 0, 0, 2, 1, 3, 0, 2, 3, 2]
private let cohenB = [3, 3, 3, 0, 3, 1, 3, 1, 3, 3, 3, 0, 3, 2, 3, 2, 3, 0, 2, 3, 2, 0, 3, 1, 0, 3, 3, 0, 3, 1, 3, 0, 2, 2, 1, 3, 0, 2, 3, 3]
private let ratingA = [1, 0, -1, 2, -2, 3, -1, -2, 1, -2, 0, -1, 1, 0, -1, 3, -2, 1, -2, 2, 3, 2, 0, -1, -1, -2, 2, 3, 3, -2]
private let ratingB = [2, 2, -2, 3, -2, 1, -2, -1, -1, 0, 2, 1, 0, 1, -2, 1, -2, 0, -1, 0, 2, 0, 0, -2, -3, -3, 3, 3, 3, -1]

@Test func cohenKappaMatchesScikitLearn() {
    // cohen_kappa_score(a, b, labels=[0,1,2,3], weights=None/"linear"/"quadratic")
    #expect(close(Agreement.cohenKappa(cohenA, cohenB, categories: [0, 1, 2, 3]), 0.5532646048109966))
    #expect(close(Agreement.cohenKappa(cohenA, cohenB, categories: [0, 1, 2, 3], weighting: .linear), 0.6441947565543071))
    #expect(close(Agreement.cohenKappa(cohenA, cohenB, categories: [0, 1, 2, 3], weighting: .quadratic), 0.7332185886402753))
    // Without labels=: categories are the sorted union of values seen (here −3…3 ratings).
    #expect(close(Agreement.cohenKappa(ratingA, ratingB), 0.01055408970976246))
    #expect(close(Agreement.cohenKappa(ratingA, ratingB, weighting: .linear), 0.4385026737967914))
    #expect(close(Agreement.cohenKappa(ratingA, ratingB, weighting: .quadratic), 0.7250916361212929))
}

@Test func cohenKappaPublishedExample() {
    // The worked example of the Cohen's kappa article (Wikipedia, after Cohen 1960's definition):
    // 50 grant proposals, both yes 20, A yes/B no 5, A no/B yes 10, both no 15:
    // p_o = 0.7, p_e = 0.5, kappa = 0.4.
    #expect(close(Agreement.cohenKappa(confusion: [[20, 5], [10, 15]]), 0.4))
    let a = Array(repeating: 1, count: 25) + Array(repeating: 0, count: 25)
    let b = Array(repeating: 1, count: 20) + Array(repeating: 0, count: 5) + Array(repeating: 1, count: 10) + Array(repeating: 0, count: 15)
    #expect(close(Agreement.cohenKappa(a, b), 0.4))
}

@Test func cohenKappaUndefinedCases() {
    #expect(Agreement.cohenKappa([Int](), [Int]()) == nil)
    #expect(Agreement.cohenKappa([1, 1, 1], [1, 1, 1]) == nil)   // no variation: 0/0 in scikit-learn (nan)
    #expect(close(Agreement.cohenKappa([0, 1, 0, 1], [0, 1, 0, 1]), 1))
}

private let fleissData: [[Int]] = [[2, 2, 2, 2, 2], [2, 1, 1, 1, 3], [1, 1, 1, 1, 1], [3, 0, 0, 0, 0], [2, 2, 2, 2, 2], [2, 0, 1, 1, 0], [1, 0, 1, 1, 0], [3, 3, 3, 3, 3], [3, 3, 3, 3, 3], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [2, 2, 2, 2, 2], [3, 0, 0, 0, 0], [2, 2, 0, 2, 2], [2, 2, 2, 2, 2], [3, 3, 3, 0, 3], [0, 1, 1, 1, 1], [2, 2, 2, 2, 3], [2, 3, 3, 3, 0], [3, 2, 3, 3, 2]]

@Test func fleissKappaMatchesStatsmodels() {
    // fleiss_kappa(aggregate_raters(data, n_cat=4)[0], method="fleiss")
    #expect(close(Agreement.fleissKappa(ratings: fleissData.map { $0.map(Optional.some) }, categories: [0, 1, 2, 3]), 0.6065128900949798))
}

@Test func fleissKappaPublishedExample() {
    // Fleiss' kappa worked example (10 subjects, 14 raters, 5 categories; Wikipedia "Fleiss'
    // kappa", also statsmodels' test table): P̄ = 0.378, P̄e = 0.213, kappa = 0.210 (statsmodels:
    // 0.20993070442195522).
    let table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                 [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    #expect(close(Agreement.fleissKappa(counts: table), 0.20993070442195522))
    #expect(abs(Agreement.fleissKappa(counts: table)! - 0.210) < 0.0005)
}

@Test func fleissKappaWithMissingRatersSkipsSingletons() {
    // A unit with one rating carries no pair; equal-size units give the statsmodels value.
    var ratings = fleissData.map { $0.map(Optional.some) }
    ratings.append([1, nil, nil, nil, nil])
    #expect(close(Agreement.fleissKappa(ratings: ratings, categories: [0, 1, 2, 3]), 0.6065128900949798))
    #expect(Agreement.fleissKappa(counts: []) == nil)
}

private let krippData: [[Double?]] = [
    [nil, 3, 0, nil, 2, 0, 1, 2, nil, 0, 2, 3, nil, 3, 0, 2, 3, nil, 3, 1, nil, nil, 2, nil, 2],
    [2, 3, 1, nil, 3, 1, 2, 2, 2, 0, nil, 3, nil, 2, 0, 1, 2, 0, 3, 1, 0, nil, nil, 2, 1],
    [nil, 3, nil, 1, 3, 0, 3, 1, 2, 0, 2, 3, 3, 3, 1, 2, 2, nil, nil, 1, 1, 2, 1, 3, 2],
    [nil, nil, 1, 1, nil, nil, 2, nil, nil, 0, 2, nil, 3, 2, 0, 2, 2, 1, 3, 0, nil, 2, 1, 3, 1],
    [3, 3, nil, 0, 3, 0, 2, 2, 3, 0, 3, 2, nil, 3, nil, nil, 2, nil, nil, 1, 1, nil, 3, nil, 2],
]

@Test func krippendorffAlphaMatchesPackage() {
    // krippendorff.alpha(reliability_data=data, level_of_measurement=...)
    #expect(close(Agreement.krippendorffAlpha(krippData, level: .nominal), 0.34534124946512645))
    #expect(close(Agreement.krippendorffAlpha(krippData, level: .ordinal), 0.7463525739041794))
    #expect(close(Agreement.krippendorffAlpha(krippData, level: .interval), 0.7575003529577862))
}

@Test func krippendorffAlphaPublishedExamples() {
    // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
    // 12 units, values 1–5 with missing data. Published: nominal 0.743, interval 0.849.
    // The package gives 0.743421052631579 / 0.8153875037548814 (ordinal) / 0.8491071428571428.
    let pub: [[Double?]] = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nil, nil, nil],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nil, 3],
        [nil, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nil],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nil],
    ]
    #expect(close(Agreement.krippendorffAlpha(pub, level: .nominal), 0.743421052631579))
    #expect(close(Agreement.krippendorffAlpha(pub, level: .ordinal), 0.8153875037548814))
    #expect(close(Agreement.krippendorffAlpha(pub, level: .interval), 0.8491071428571428))
    #expect(abs(Agreement.krippendorffAlpha(pub, level: .nominal)! - 0.743) < 0.0005)
    #expect(abs(Agreement.krippendorffAlpha(pub, level: .interval)! - 0.849) < 0.0005)
    // Wikipedia's computational example (3 coders, 15 units): nominal 0.691 (package 0.691358024691358).
    let wiki: [[Double?]] = [
        [nil, nil, nil, nil, nil, 3, 4, 1, 2, 1, 1, 3, 3, nil, 3],
        [1, nil, 2, 1, 3, 3, 4, 3, nil, nil, nil, nil, nil, nil, nil],
        [nil, nil, 2, 1, 3, 4, 4, nil, 2, 1, 1, 3, 3, nil, 4],
    ]
    #expect(close(Agreement.krippendorffAlpha(wiki, level: .nominal), 0.691358024691358))
    #expect(close(Agreement.krippendorffAlpha(wiki, level: .interval), 0.8108448928121059))
}

@Test func krippendorffAlphaUndefinedCases() {
    #expect(Agreement.krippendorffAlpha([[1, 1], [1, 1]], level: .nominal) == nil)   // no variation
    #expect(Agreement.krippendorffAlpha([[1, nil], [nil, 2]], level: .nominal) == nil)  // no pairable unit
}

@Test func confusionMatrixPerClassMetrics() {
    let truth = ["c", "c", "c", "p", "p", "r", "r", "r", "r", "r"]
    let pred  = ["c", "c", "p", "p", "r", "r", "r", "r", "c", "r"]
    let cm = ConfusionMatrix(truth: truth, predicted: pred, classes: ["c", "p", "r"])
    #expect(cm.counts == [[2, 1, 0], [0, 1, 1], [1, 0, 4]])
    #expect(cm.accuracy == 0.7)
    let c = cm.metrics(for: 0)
    #expect(c.sensitivity == 2.0 / 3 && c.precision == 2.0 / 3 && c.specificity == 6.0 / 7)
    #expect(abs(c.f1! - 2.0 / 3) < 1e-12)
    let r = cm.metrics(for: 2)
    #expect(r.sensitivity == 0.8 && r.precision == 0.8 && r.support == 5)
    let empty = ConfusionMatrix<String>(classes: ["a"])
    #expect(empty.accuracy == nil && empty.metrics(for: 0).sensitivity == nil)
}

@Test func ratingSummaryValues() {
    let s = RatingSummary([-1, 2, 3, 3])
    #expect(s.count == 4 && s.mean == 1.75 && s.median == 2.5)
    #expect(abs(s.sd! - 1.8929694486000912) < 1e-12)   // numpy.std(ddof=1)
    #expect(s.histogram == [0, 0, 1, 0, 0, 1, 2])
    #expect(RatingSummary([]).mean == nil && RatingSummary([1]).sd == nil)
}
