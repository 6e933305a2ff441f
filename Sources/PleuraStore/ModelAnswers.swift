import Foundation
import GRDB
import PleuraCore

/// Which model answers count as independent opinions, and how clips' frame predictions become
/// video-level answers.
///
/// ```swift
/// let options = ModelAnswerOptions(aggregation: .max, trainingFiles: [modelSHA: cardFileHashes])
/// let answers = try store.modelAnswers(level: .video, options: options)
/// ```
public struct ModelAnswerOptions: Sendable, Equatable {
    public var aggregation: VideoAggregation
    /// Per model SHA-256: the SHA-256s of the files it was trained on (its card's
    /// `training.files_sha256`). A prediction on such a file is "seen in training".
    public var trainingFiles: [String: Set<String>]
    /// Keep seen-in-training answers in model-versus-human agreement (they are always marked).
    public var includeTraining: Bool
    /// Only this model (SHA-256); nil: every model with predictions.
    public var model: String?

    public init(aggregation: VideoAggregation = .mean, trainingFiles: [String: Set<String>] = [:], includeTraining: Bool = false,
                model: String? = nil) {
        self.aggregation = aggregation; self.trainingFiles = trainingFiles; self.includeTraining = includeTraining; self.model = model
    }
}

/// A model's answer on one item: a frame's stored predictions, or a clip's frame predictions
/// aggregated by ``VideoAggregation``.
public struct ModelAnswer: Sendable, Equatable {
    public var model: String
    public var item: ItemRef
    /// The probabilities of severity 0…3 (aggregated: mean over frames), when the model has a
    /// `severity` head.
    public var severityProbabilities: [Double]?
    /// The model's severity and its confidence (the probability it gives that class, as the
    /// aggregation rule defines it).
    public var severity: (value: Int, confidence: Double)?
    /// Probability per finding field the model predicts (`a_lines`, `b_lines`, `b1_lines`, …).
    public var findings: [ReviewField: Double]
    /// The most probable class of the default (diagnosis) head and its probability.
    public var topClass: (name: String, probability: Double)?
    /// Frames the answer comes from (1 at frame level).
    public var frames: Int
    /// The model was trained on this file: not an independent opinion.
    public var seenInTraining: Bool

    /// The model's answer on a field: severity 0–3, a finding 1 (probability ≥ 0.5) or 0.
    public func value(_ field: ReviewField) -> Int? {
        if field == .severity { return severity?.value }
        return findings[field].map { $0 >= 0.5 ? 1 : 0 }
    }

    /// How sure the model is of its answer on a field (the probability of what it answered).
    public func confidence(_ field: ReviewField) -> Double? {
        if field == .severity { return severity?.confidence }
        return findings[field].map { $0 >= 0.5 ? $0 : 1 - $0 }
    }

    public static func == (a: ModelAnswer, b: ModelAnswer) -> Bool {
        a.model == b.model && a.item == b.item && a.severityProbabilities == b.severityProbabilities
            && a.severity?.value == b.severity?.value && a.severity?.confidence == b.severity?.confidence
            && a.findings == b.findings && a.topClass?.name == b.topClass?.name && a.frames == b.frames
            && a.seenInTraining == b.seenInTraining
    }
}

extension AnnotationStore {
    /// Every model's answer per item at one level, keyed by model SHA-256, then item. Frame level:
    /// each predicted frame. Video level: each clip with predicted frames, aggregated by
    /// `options.aggregation` (a video-level prediction stored as such, frame -1, is used as it is).
    ///
    /// How heads map: `severity` (classes `0`–`3`); a multi-label `findings` head whose classes are
    /// finding names or `b_lines` (any B-lines, compared with the humans' B1 or B2); a head named
    /// after a finding (class `1` or `present`); the card's `diagnosis` head gives ``ModelAnswer/topClass``.
    public func modelAnswers(level: ItemLevel, options: ModelAnswerOptions = ModelAnswerOptions()) throws -> [String: [ItemRef: ModelAnswer]] {
        struct Accumulator {
            var frames = Set<Int>()
            var severity: [Int: [Int: Double]] = [:]        // frame → class → p
            var findings: [ReviewField: [Int: Double]] = [:]  // field → frame → p
            var diagnosis: [Int: [String: Double]] = [:]     // frame → class → p
        }
        var acc: [String: [Int64: Accumulator]] = [:]      // model → media id → frames
        var shaOf: [Int64: String] = [:]
        try read { db in
            for m in try Self.fetchAllMedia(db) { shaOf[m.id] = m.sha256 }
            var sql = "SELECT media_id, frame, model_sha256, head, class, probability FROM prediction"
            var arguments: StatementArguments = []
            if let model = options.model { sql += " WHERE model_sha256 = ?"; arguments = [model] }
            let cursor = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try cursor.next() {
                let mediaID: Int64 = row[0], frame: Int = row[1]
                let model: String = row[2], head: String = row[3], cls: String = row[4], p: Double = row[5]
                // Frame level reads frames; video level reads frames to aggregate, or a stored
                // video-level answer.
                if level == .frame && frame < 0 { continue }
                var a = acc[model, default: [:]][mediaID, default: Accumulator()]
                var used = true
                if head == "severity", let s = Int(cls), (0...3).contains(s) {
                    a.severity[frame, default: [:]][s] = p
                } else if head == "findings", let f = ReviewField(rawValue: cls), f != .severity {
                    a.findings[f, default: [:]][frame] = p
                } else if let f = ReviewField(rawValue: head), f != .severity, cls == "1" || cls == "present" {
                    a.findings[f, default: [:]][frame] = p
                } else if head == "diagnosis" {
                    a.diagnosis[frame, default: [:]][cls] = p
                } else { used = false }
                if used { a.frames.insert(frame) }
                acc[model, default: [:]][mediaID] = a
            }
        }
        var out: [String: [ItemRef: ModelAnswer]] = [:]
        for (model, byMedia) in acc {
            let training = options.trainingFiles[model] ?? []
            for (mediaID, a) in byMedia {
                guard let sha = shaOf[mediaID] else { continue }
                let seen = training.contains(sha)
                func answer(frames: [Int], item: ItemRef) -> ModelAnswer {
                    var result = ModelAnswer(model: model, item: item, severityProbabilities: nil, severity: nil, findings: [:],
                                             topClass: nil, frames: frames.count, seenInTraining: seen)
                    let sevFrames = frames.compactMap { a.severity[$0] }.filter { $0.count == 4 }
                    if !sevFrames.isEmpty {
                        let mean = (0...3).map { k in sevFrames.map { $0[k]! }.reduce(0, +) / Double(sevFrames.count) }
                        result.severityProbabilities = mean
                        func argmax(_ p: [Int: Double]) -> Int { (0...3).max { p[$0]! < p[$1]! || (p[$0]! == p[$1]! && $0 > $1) }! }
                        switch options.aggregation {
                        case .mean:
                            let k = argmax(Dictionary(uniqueKeysWithValues: mean.enumerated().map { ($0.offset, $0.element) }))
                            result.severity = (k, mean[k])
                        case .max:
                            let k = sevFrames.map(argmax).max()!
                            result.severity = (k, sevFrames.filter { argmax($0) == k }.map { $0[k]! }.max()!)
                        case .expected:
                            let e = sevFrames.map { p in (0...3).reduce(0.0) { $0 + Double($1) * p[$1]! } }.reduce(0, +) / Double(sevFrames.count)
                            let k = min(3, max(0, Int((e).rounded(.toNearestOrAwayFromZero))))
                            result.severity = (k, mean[k])
                        }
                    }
                    for (field, byFrame) in a.findings {
                        let ps = frames.compactMap { byFrame[$0] }
                        guard !ps.isEmpty else { continue }
                        result.findings[field] = options.aggregation == .max ? ps.max()! : ps.reduce(0, +) / Double(ps.count)
                    }
                    let diag = frames.compactMap { a.diagnosis[$0] }
                    if !diag.isEmpty {
                        var mean: [String: Double] = [:]
                        for d in diag { for (c, p) in d { mean[c, default: 0] += p / Double(diag.count) } }
                        if let best = mean.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }) {
                            result.topClass = (best.key, best.value)
                        }
                    }
                    return result
                }
                if level == .frame {
                    for f in a.frames.sorted() {
                        let item = ItemRef(mediaSHA256: sha, frame: f)
                        out[model, default: [:]][item] = answer(frames: [f], item: item)
                    }
                } else {
                    let item = ItemRef(mediaSHA256: sha, frame: nil)
                    // A stored video-level answer wins; else the clip's frames.
                    let frames = a.frames.contains(-1) ? [-1] : a.frames.sorted()
                    var r = answer(frames: frames, item: item)
                    if frames == [-1] { r.frames = 1 }
                    out[model, default: [:]][item] = r
                }
            }
        }
        return out
    }
}
