import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraStore

/// The review queue and model answers over a small hand-built store: which items are in it, in
/// which order, video-level aggregation, the b_lines ↔ B1|B2 mapping and "seen in training".
@Suite struct ReviewQueueTests {
    let store: AnnotationStore
    let shas: [String]
    let reference: Annotator
    let bob: Annotator

    init() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-review-queue")
        store = try AnnotationStore.open(path: dir.appendingPathComponent("r.sqlite").path)
        shas = ["clip a", "clip b"].map { SHA256.hex(of: Array($0.utf8)) }
        try store.registerMedia(sha256: shas[0], path: "/data/a.mp4", facts: MediaFacts(kind: "video", frames: 10))
        try store.registerMedia(sha256: shas[1], path: "/data/b.mp4", facts: MediaFacts(kind: "video", frames: 10))
        reference = try store.annotator(named: "truth", role: .reference)
        bob = try store.annotator(named: "bob", role: .labeller)
    }

    func label(_ who: Annotator, _ sha: Int, _ frame: Int?, severity: Int? = nil, b1: Bool? = nil, b2: Bool? = nil, a: Bool? = nil) throws {
        let s = try store.beginSession(annotator: who, name: "t", mode: "label")
        var l = LabelSet()
        l.severity = severity.flatMap(Severity.init(rawValue:)); l[.b1Lines] = b1; l[.b2Lines] = b2; l[.aLines] = a
        try store.setLabels(item: ItemRef(mediaSHA256: shas[sha], frame: frame), to: l, annotator: who, session: s)
    }

    /// Severity probabilities (4) and a b_lines probability for one frame of model "m".
    func predict(_ sha: Int, _ frame: Int, severity p: [Double], bLines: Double, model: String = "m") throws {
        var rows = p.enumerated().map {
            Prediction(item: ItemRef(mediaSHA256: shas[sha], frame: frame), modelSHA256: model, head: "severity",
                       className: String($0.offset), probability: $0.element)
        }
        rows.append(Prediction(item: ItemRef(mediaSHA256: shas[sha], frame: frame), modelSHA256: model, head: "findings",
                               className: "b_lines", probability: bLines))
        try store.insertPredictions(rows)
    }

    @Test func queueHoldsModelAndHumanDisagreementsMostInstructiveFirst() throws {
        // Frame 0: model says 3 with 0.9 against the reference's 1: a confident error.
        try label(reference, 0, 0, severity: 1, b1: false, b2: false)
        try predict(0, 0, severity: [0.05, 0.03, 0.02, 0.9], bLines: 0.1)
        // Frame 1: agreement on severity; the model's b_lines (0.7) against the reference's B2 = present.
        try label(reference, 0, 1, severity: 2, b1: false, b2: true)
        try predict(0, 1, severity: [0.1, 0.2, 0.6, 0.1], bLines: 0.3)
        // Frame 2: severity 0 against 3 at 0.5: the largest gap, not confident.
        try label(reference, 0, 2, severity: 0)
        try predict(0, 2, severity: [0.2, 0.1, 0.2, 0.5], bLines: 0.5)
        // Frame 3: full agreement: not in the queue. B-lines not assessed by the reference (B1 nil).
        try label(reference, 0, 3, severity: 1, b2: false)
        try predict(0, 3, severity: [0.1, 0.7, 0.1, 0.1], bLines: 0.9)
        // Humans disagree on frame 3 of clip b (severity 1 vs 2) and agree on frame 4.
        try label(reference, 1, 3, severity: 1)
        try label(bob, 1, 3, severity: 2)
        try label(reference, 1, 4, a: true)
        try label(bob, 1, 4, a: true)

        let queue = try store.reviewQueue(ReviewQueueOptions(reference: "truth", levels: [.frame]), root: "/data")
        #expect(queue.map { "\($0.media)#\($0.item.frame!)" } == ["a.mp4#0", "a.mp4#2", "a.mp4#1", "b.mp4#3"])
        #expect(queue[0].confidentError && queue[0].confidence == 0.9)
        #expect(queue[0].differences.map(\.field) == [.severity])
        #expect(queue[1].size == 3 && !queue[1].confidentError)
        // b_lines is compared with B1 or B2.
        #expect(queue[2].differences == [.init(field: .bLines, first: 1, second: 0, confidence: 0.7)])
        #expect(queue[3].kind == .humanVsHuman && queue[3].first == "bob" && queue[3].second == "truth")
        #expect(queue[0].json.contains("\"kind\":\"model_vs_reference\"") && queue[0].json.contains("\"frame\":0"))

        // Filters.
        let human = try store.reviewQueue(ReviewQueueOptions(reference: "truth", levels: [.frame], source: .human), root: "/data")
        #expect(human.count == 1 && human[0].kind == .humanVsHuman)
        let bLines = try store.reviewQueue(ReviewQueueOptions(reference: "truth", levels: [.frame], field: .bLines), root: "/data")
        #expect(bLines.map { $0.item.frame } == [1])
        let sev0 = try store.reviewQueue(ReviewQueueOptions(reference: "truth", levels: [.frame], severity: 0), root: "/data")
        #expect(sev0.map { $0.item.frame } == [2])
        // The trainee reviewing is no "human" of the queue.
        let noBob = try store.reviewQueue(ReviewQueueOptions(reference: "truth", levels: [.frame], excluding: ["bob"]), root: "/data")
        #expect(!noBob.contains { $0.kind == .humanVsHuman })
        #expect(throws: PleuraError.self) { try store.reviewQueue(ReviewQueueOptions(reference: "nobody"), root: "/") }
        // The only reference-role annotator is the default reference.
        #expect(try store.reviewQueue(ReviewQueueOptions(levels: [.frame]), root: "/data") == queue)
    }

    @Test func videoAnswersAggregateFramesByTheSessionsRule() throws {
        try predict(0, 0, severity: [0.6, 0.3, 0.05, 0.05], bLines: 0.2)
        try predict(0, 1, severity: [0.5, 0.1, 0.1, 0.3], bLines: 0.9)
        try predict(0, 2, severity: [0.1, 0.1, 0.2, 0.6], bLines: 0.3)
        func video(_ rule: VideoAggregation) throws -> ModelAnswer {
            try #require(try store.modelAnswers(level: .video, options: ModelAnswerOptions(aggregation: rule))["m"]?[ItemRef(mediaSHA256: shas[0], frame: nil)])
        }
        // Mean probabilities: 0.4, 0.1667, 0.1167, 0.3167 → 0.
        let mean = try video(.mean)
        #expect(mean.severity?.value == 0 && abs(mean.severity!.confidence - 0.4) < 1e-12 && mean.frames == 3)
        #expect(abs(mean.findings[.bLines]! - 1.4 / 3) < 1e-12 && mean.value(.bLines) == 0)
        // Max of the frames' classes (0, 0, 3) → 3 with 0.6; any frame with b_lines ≥ 0.5 → present.
        let max = try video(.max)
        #expect(max.severity?.value == 3 && max.severity?.confidence == 0.6 && max.value(.bLines) == 1)
        // Expected severity per frame: 0.55, 1.2, 2.3 → mean 1.35 → 1.
        let expected = try video(.expected)
        #expect(expected.severity?.value == 1)
        #expect(try store.modelAnswers(level: .frame)["m"]?.count == 3)
    }

    @Test func predictionsOnTrainingFilesAreMarkedAndLeftOutByDefault() throws {
        for sha in 0...1 {
            try label(reference, sha, 0, severity: 0)
            try predict(sha, 0, severity: [0.1, 0.1, 0.1, 0.7], bLines: 0.5)
        }
        let training = ["m": Set([shas[1]])]
        let excluded = try store.reviewQueue(ReviewQueueOptions(reference: "truth", levels: [.frame],
                                                                models: ModelAnswerOptions(trainingFiles: training)), root: "/data")
        #expect(excluded.map(\.media) == ["a.mp4"] && !excluded[0].seenInTraining)
        let kept = try store.reviewQueue(ReviewQueueOptions(reference: "truth", levels: [.frame],
                                                            models: ModelAnswerOptions(trainingFiles: training, includeTraining: true)), root: "/data")
        #expect(kept.map(\.media).sorted() == ["a.mp4", "b.mp4"])
        #expect(kept.first { $0.media == "b.mp4" }?.seenInTraining == true)
        #expect(kept.first { $0.media == "b.mp4" }?.json.contains("\"seen_in_training\":true") == true)

        let stats = try store.statistics(level: .frame, models: ModelAnswerOptions(trainingFiles: training))
        let m = try #require(stats.models.first)
        #expect(m.seenInTraining == 1 && !m.includesTraining)
        #expect(m.severity.first?.n == 1)
        #expect(m.bLines == nil || m.bLines?.isEmpty == true)   // the reference gave no B-lines
        let all = try store.statistics(level: .frame, models: ModelAnswerOptions(trainingFiles: training, includeTraining: true))
        #expect(all.models.first?.severity.first?.n == 2)
        #expect(stats.json.contains("\"seen_in_training\":1"))
    }

    @Test func statisticsCompareTheModelsBLinesWithB1OrB2() throws {
        let truth: [(Bool?, Bool?)] = [(true, false), (false, true), (false, false), (false, false), (nil, nil)]
        let model = [0.9, 0.2, 0.1, 0.8, 0.9]
        for (f, t) in truth.enumerated() {
            try label(reference, 0, f, severity: 1, b1: t.0, b2: t.1)
            try predict(0, f, severity: [0.1, 0.7, 0.1, 0.1], bLines: model[f])
        }
        let m = try #require(try store.statistics(level: .frame).models.first)
        let b = try #require(m.bLines?.first)
        // truth 1,1,0,0 (frame 4 not assessed) vs model 1,0,0,1: TP 1, FN 1, FP 1, TN 1.
        #expect(b.n == 4)
        #expect(b.perClass[1] == ClassMetrics(truePositives: 1, falsePositives: 1, falseNegatives: 1, trueNegatives: 1))
        // Video level: the clip's mean b_lines 0.58 ≥ 0.5 against a video label.
        try label(reference, 0, nil, severity: 2, b1: true)
        let v = try #require(try store.statistics(level: .video).models.first)
        #expect(v.bLines?.first?.confusion == [[0, 0], [0, 1]])
        #expect(v.severity.first?.confusion[2] == [0, 1, 0, 0])
    }
}
