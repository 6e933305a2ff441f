import Foundation
import PleuraCore
import PleuraRender
import PleuraStore

/// Everything the review screen shows about one queue item besides the picture: the reference's
/// labels, the other humans', each model's answer, and this trainee's reviews of it.
public struct ReviewItemContext {
    public var reference: (name: String, labels: LabelSet)
    /// Other humans with labels on the item, by name.
    public var others: [(name: String, labels: LabelSet)]
    /// Model answers on the item (frame predictions, or the clip's aggregated).
    public var models: [ModelAnswer]

    public init(reference: (name: String, labels: LabelSet), others: [(name: String, labels: LabelSet)], models: [ModelAnswer]) {
        self.reference = reference; self.others = others; self.models = models
    }
}

/// What review mode needs from the store. The production implementation is
/// ``StoreReviewBackend``; tests may use an in-memory one. Writes return only once committed.
public protocol ReviewBackend: AnyObject {
    /// The labels and model answers of an item (read when the item is shown).
    func context(of item: ItemRef) throws -> ReviewItemContext
    /// Every review by this trainee, oldest first (answers, marks, notes, flags).
    func ownReviews() throws -> [Review]
    /// Appends reviews in one transaction; returns them as stored (with ids and times).
    func record(_ reviews: [Review]) throws -> [Review]
}

/// A model as review mode draws it: a map of any head's class on a frame, on the frame's grid.
public protocol ReviewModel: AnyObject {
    var name: String { get }
    /// The model file's SHA-256 (predictions in the store are keyed by it).
    var sha256: String { get }
    /// Head name → classes, card order.
    var heads: [String: [String]] { get }
    func heatmap(of image: PixelImage, head: String, className: String, method: HeatmapMethod) throws -> Heatmap
}
