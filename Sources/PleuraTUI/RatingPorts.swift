import Foundation
import PleuraCore
import PleuraRender
import PleuraStore

/// What rate mode needs from the store: this rater's recorded trials (nothing of other raters:
/// blinding), one committed write per answer, and the heatmaps `pleura infer` stored. The
/// production implementation is ``StoreRatingBackend``; tests use an in-memory one.
///
/// Every write returns only after the change is durable, because the screen shows a rating as
/// saved as soon as the call returns.
public protocol RatingBackend: AnyObject {
    /// This rater's recorded trials by id (resume, pre-filled answers).
    func recordedTrials() throws -> [String: RecordedTrial]
    /// Records the trial's whole answer (a revision when it was answered before) plus the seconds
    /// spent since the last write; returns the trial as stored after it.
    func record(_ answers: TrialAnswers, for trial: RatingTrial, secondsSpent: Double) throws -> RecordedTrial
    /// A stored map of the item (`pleura infer`, or an earlier first view), or nil.
    func storedHeatmap(item: ItemRef, modelSHA256: String, method: String, target: String, layer: String) throws -> HeatmapRecord?
    /// Stores a map computed on first view; returns the record as stored (an earlier identical
    /// request keeps the first map).
    func storeHeatmap(_ record: HeatmapRecord) throws -> HeatmapRecord
    /// Another annotator's current labels of one medium by frame (-1: the whole video), for a
    /// `reference:NAME` target: they choose which class a map explains and are never shown.
    /// Nil when the store has no annotator of that name.
    func labels(of annotator: String, mediaSHA256: String) throws -> [Int: LabelSet]?
}

/// A model as rate mode uses it: its identity for provenance, and heatmaps.
public protocol RatingModel: AnyObject {
    /// SHA-256 of the TorchScript file (what ratings record).
    var sha256: String { get }
    /// The layer the Grad-CAM family reads (the card's), recorded with every map.
    var layer: String { get }
    var head: String { get }
    /// The head's classes in the card's order.
    var classes: [String] { get }
    /// The map of one class of the head for a frame of `clip`, values 0…1 on the model's own grid
    /// (as `pleura infer` stores it; sector models see the clip's scan sector, found once per clip).
    func heatmap(of image: PixelImage, in clip: ClipReader, className: String, method: HeatmapMethod) throws -> Heatmap
    /// The head's probabilities (card order) for a frame of `clip`.
    func probabilities(of image: PixelImage, in clip: ClipReader) throws -> [Float]
    /// A map on the model's grid put where it lies on the clip's frames (sector models: into the
    /// scan sector, 0 outside), for drawing.
    func onFrame(_ map: Heatmap, of clip: ClipReader) throws -> Heatmap
    /// Whether the head is multilabel (independent flags) rather than one class of several.
    var isMultilabel: Bool { get }
    /// The Pleura label field the head predicts (the card's `pleura_labels`), e.g. `severity`;
    /// nil when the card does not say.
    var labelField: String? { get }
    /// The head's class for a value of ``labelField`` in canonical text ("2" → "2").
    func className(forLabel text: String) -> String?
}
