import Testing
@testable import PleuraCore

/// RatingStudy's Wilcoxon signed-rank test on each of scipy's code paths (reference values:
/// scipy 1.17.1 `scipy.stats.wilcoxon(d)` with its defaults). The full report is checked against
/// scipy, scikit-learn and krippendorff in Tests/PleuraCLITests/RatingReportTests.swift.
@Suite struct RatingStudyTests {
    @Test func wilcoxonExactWithoutTiesOrZeros() {
        let r = RatingStudy.wilcoxon([1.5, -0.5, 2, 3, -1, 4, 2.5])
        #expect(r.n == 7 && r.w == 3.0 && r.p == 0.078125)
        let s = RatingStudy.wilcoxon([-3, -2, -1, -1, -2, -3, 1, 2])   // ties: permutation path, n ≤ 13
        #expect(s.w == 7.0 && abs(s.p! - 0.15625) < 1e-12)
    }

    @Test func wilcoxonPermutationWithZerosAndTies() {
        let r = RatingStudy.wilcoxon([1, 2, -1, 0, 3, 1, -2, 2, 1])
        #expect(r.n == 8 && r.w == 8.5 && abs(r.p! - 0.2421875) < 1e-12)
    }

    @Test func wilcoxonNormalApproximationWithTieCorrection() {
        let r = RatingStudy.wilcoxon([1, 2, -1, 0, 0, 3, 1, -2, 2, 1, 0, 1, 2, -1, 1, 1, 2, 3])
        #expect(r.n == 15 && r.w == 20.0 && abs(r.p! - 0.020258580316593697) < 1e-12)
        #expect(RatingStudy.wilcoxon([0, 0]).p == nil)
    }

    @Test func percentileIsNumpysLinearInterpolation() {
        #expect(abs(RatingStudy.percentile([4, 1, 3, 2], 2.5)! - 1.075) < 1e-12)
        #expect(abs(RatingStudy.percentile([4, 1, 3, 2], 97.5)! - 3.925) < 1e-12)
        #expect(RatingStudy.percentile([], 50) == nil)
    }

    @Test func conditionsNameWhatDiffersBetweenThePairsMaps() {
        func row(_ method: String, _ model: String) -> RatingRecord {
            RatingRecord(media: "a.mp4", frame: 1, annotator: "r", model: model, method: method, target: "diagnosis/covid",
                         rating: HeatmapRating(rawValue: 1), comment: nil)
        }
        #expect(RatingStudy.conditions(row("gradcam", "m1"), row("layercam", "m1"))! == ("gradcam", "layercam"))
        let models = RatingStudy.conditions(row("gradcam", String(repeating: "a", count: 64)), row("gradcam", String(repeating: "b", count: 64)))!
        #expect(models.0 == "model aaaaaaaaaaaa" && models.1 == "model bbbbbbbbbbbb")
        #expect(RatingStudy.conditions(row("gradcam", "m1"), row("gradcam", "m1")) == nil)
    }
}
