import Foundation
import PleuraCore
import PleuraStore

/// Rate mode's ``RatingBackend`` over PleuraStore's rating API (branch `report`): one store
/// session per run, every answer one committed transaction before the call returns.
public final class StoreRatingBackend: RatingBackend {
    public let store: AnnotationStore
    public let rater: PleuraStore.Annotator
    public let storeSession: StoreSession

    public init(store: AnnotationStore, rater name: String, sessionName: String) throws {
        self.store = store
        rater = try store.annotator(named: name, role: .rater)
        storeSession = try store.beginSession(annotator: rater, name: sessionName, mode: "rate")
    }

    public func recordedTrials() throws -> [String: RecordedTrial] { try store.recordedTrials(annotator: rater) }

    public func record(_ answers: TrialAnswers, for trial: RatingTrial, secondsSpent: Double) throws -> RecordedTrial {
        try store.recordRating(answers, for: trial, secondsSpent: max(0, secondsSpent), annotator: rater, session: storeSession)
        guard let back = try store.recordedTrial(id: trial.id, annotator: rater) else {
            throw PleuraError(file: store.path, "the rating of \(SafeText.sanitize(trial.id)) was not found after saving it")
        }
        return back
    }

    public func storedHeatmap(item: ItemRef, modelSHA256: String, method: String, target: String, layer: String) throws -> HeatmapRecord? {
        try store.heatmap(item: item, modelSHA256: modelSHA256, method: method, target: target, layer: layer)
    }

    public func labels(of annotator: String, mediaSHA256: String) throws -> [Int: LabelSet]? {
        guard let who = try store.annotator(named: annotator) else { return nil }
        return try store.currentLabelsByFrame(mediaSHA256: mediaSHA256, annotator: who)
    }

    public func storeHeatmap(_ record: HeatmapRecord) throws -> HeatmapRecord {
        let sha = try store.insertHeatmap(record)
        if sha == record.sha256 { return record }
        return try store.heatmap(sha256: sha) ?? record
    }

    /// Records a media file (by content hash) so ratings can refer to it.
    public func register(sha256: String, path: String, kind: String, width: Int, height: Int, fps: Double, frames: Int) throws {
        try store.registerMedia(sha256: sha256, path: path,
                                facts: MediaFacts(kind: kind, width: width, height: height, fps: fps, frames: frames))
    }
}
