import Foundation
import PleuraCore
import PleuraRender

/// One label change: a field of an item set to a value, or nil to clear it (not assessed).
public struct LabelChange: Equatable, Sendable {
    public var field: LabelField
    public var value: LabelValue?
    public init(_ field: LabelField, _ value: LabelValue?) {
        self.field = field
        self.value = value
    }
}

/// An item an undo or redo touched, with its labels after it and what changed (field, value
/// before → after), so the screen can say what was undone.
public struct LabelEdit: Equatable, Sendable {
    public struct FieldChange: Equatable, Sendable {
        public var field: LabelField
        public var old: LabelValue?
        public var new: LabelValue?
        public init(field: LabelField, old: LabelValue?, new: LabelValue?) { self.field = field; self.old = old; self.new = new }
    }
    public var item: ItemRef
    public var labels: LabelSet
    public var changes: [FieldChange]
    public init(item: ItemRef, labels: LabelSet, changes: [FieldChange] = []) {
        self.item = item; self.labels = labels; self.changes = changes
    }
}

/// What the labelling screen needs from the store. The production implementation is
/// ``StoreLabelBackend`` over PleuraStore's `AnnotationStore`; tests use an in-memory one.
///
/// Every method that changes data returns only after the change is durable (committed), because
/// the screen shows a change as saved as soon as the call returns.
public protocol LabelBackend: AnyObject {
    /// The current labels of an item by this session's annotator.
    func labels(of item: ItemRef) throws -> LabelSet
    /// Applies changes to one item in one transaction; returns the item's labels as stored after
    /// it (read back once: what the panel shows is what the store holds).
    func apply(_ changes: [LabelChange], to item: ItemRef) throws -> LabelSet
    /// Undoes this annotator's last change in this session; returns the item it touched and that
    /// item's labels now, or nil when there is nothing to undo.
    func undo() throws -> LabelEdit?
    /// Redoes the last undone change; the item it touched and its labels now, or nil.
    func redo() throws -> LabelEdit?
    /// The frames of a media file that carry at least one label by this annotator (for progress
    /// and the unlabelled-only filter).
    func labelledFrames(ofMedia sha256: String) throws -> Set<Int>
}

/// An opened clip (or still image, as a one-frame clip) the screen can show frames of.
public protocol ClipReader: AnyObject {
    var frameCount: Int { get }
    /// Frames per second for playback (still images: any positive value).
    var framesPerSecond: Double { get }
    var width: Int { get }
    var height: Int { get }
    /// Lower-case hex SHA-256 of the file: the media's identity in the store.
    var sha256: String { get }
    /// Frame `index` (0-based, display order) as an image.
    func frame(_ index: Int) throws -> PixelImage
}

/// What the image pane shows: a frame and, with the overlay on, a heatmap drawn over it. Panes
/// draw the heatmap after scaling the frame to their own size: less work than at the frame's size
/// (a 608-px frame in a 480-px pane: 37 % fewer pixels) and the colours are not blurred by it.
public struct PaneContent {
    public var frame: PixelImage
    public var overlay: (heatmap: Heatmap, style: OverlayStyle)?
    public init(frame: PixelImage, overlay: (heatmap: Heatmap, style: OverlayStyle)? = nil) {
        self.frame = frame
        self.overlay = overlay
    }

    /// The content at the frame's own size (what a pane shows, before its scaling).
    public var composited: PixelImage {
        guard let overlay else { return frame }
        return Compositor.overlay(frame, heatmap: overlay.heatmap, style: overlay.style)
    }
}

/// Turns a frame into the bytes that draw it in the image pane: sixel, or half-block text.
public protocol PaneImageEncoder: AnyObject {
    /// Shown in the side panel (`sixel`, `half-blocks`).
    var name: String { get }
    /// Bytes drawing `content` scaled to fit `columns` × `rows` cells (top-left at the cursor),
    /// keeping the aspect ratio. Half-block output positions its own rows relative to `origin`.
    func encode(_ content: PaneContent, columns: Int, rows: Int, origin: (row: Int, column: Int)) throws -> [UInt8]
    /// A new clip starts (palettes computed for the old one no longer fit).
    func clipChanged()
    /// The next ``encode(_:columns:rows:origin:)`` is a frame of playback at this frame rate over
    /// this link (cheaper, sized to fit it), or, with nil, a still frame (full quality).
    func setPlayback(framesPerSecond: Double?, link: LinkMeter)
}

extension LabelSet {
    /// Applies one change.
    public mutating func apply(_ change: LabelChange) {
        set(change.field, to: change.value)
    }
}

/// One head's class probabilities for a frame, most probable first.
public struct HeadPrediction: Equatable, Sendable {
    public var head: String
    /// Multi-label heads (independent sigmoids) have no single "predicted" class.
    public var isMultilabel: Bool
    /// (class, probability), sorted by probability, highest first (ties: the card's order).
    public var ranked: [(name: String, probability: Float)]
    /// Standard deviation of each class's probability over the model's MC-dropout samples (the
    /// card's `uncertainty_output`); empty when the model has none.
    public var spread: [String: Float]

    public init(head: String, isMultilabel: Bool, probabilities: [(name: String, probability: Float)], spread: [String: Float] = [:]) {
        self.head = head
        self.isMultilabel = isMultilabel
        self.spread = spread
        ranked = probabilities.enumerated()
            .sorted { $0.element.probability != $1.element.probability ? $0.element.probability > $1.element.probability : $0.offset < $1.offset }
            .map(\.element)
    }

    public static func == (a: HeadPrediction, b: HeadPrediction) -> Bool {
        a.head == b.head && a.isMultilabel == b.isMultilabel
            && a.ranked.map(\.name) == b.ranked.map(\.name) && a.ranked.map(\.probability) == b.ranked.map(\.probability)
            && a.spread == b.spread
    }

    /// The panel's words for the most probable class: `severity 2 71% ±8` (± the MC-dropout
    /// standard deviation in percentage points, where the model gives one).
    public var topSummary: String? {
        guard let top = ranked.first else { return nil }
        let sd = spread[top.name].map { String(format: " ±%.0f", ($0 * 100).rounded()) } ?? ""
        return "\(SafeText.sanitize(head)) \(SafeText.sanitize(top.name)) \(Int((top.probability * 100).rounded()))%" + sd
    }
}

/// What the labelling screen needs from a model: predictions and class-activation maps of a
/// frame. The production implementation is ``ModelExplainer`` over PleuraModel's `ModelRuntime`;
/// tests use a fake one. Created lazily (loading libtorch and a model costs a second or more).
public protocol FrameExplainer: AnyObject {
    /// Shown in the side panel (the model's name).
    var name: String { get }
    /// The head overlays explain (the card's default head).
    var targetHead: String { get }
    /// That head's classes in the card's order.
    var targetClasses: [String] { get }
    /// All heads' probabilities, in the card's head order. `clip` is the clip the frame is from:
    /// what the model needs of the whole clip (a sector model's scan sector, found from the clip's
    /// sample frames as `pleura infer` finds it) is worked out once per clip and kept.
    func predictions(of image: PixelImage, in clip: ClipReader) throws -> [HeadPrediction]
    /// The map for one class of ``targetHead``, values 0…1 over the whole frame (any size; the
    /// compositor resamples it).
    func heatmap(of image: PixelImage, in clip: ClipReader, className: String, method: HeatmapMethod) throws -> Heatmap
    /// ``predictions(of:in:)`` plus the map of ``targetHead``'s most probable class, from one
    /// forward pass: what a new frame costs with the overlay on (half of two separate calls).
    func predictionsAndTopHeatmap(of image: PixelImage, in clip: ClipReader, method: HeatmapMethod) throws
        -> (predictions: [HeadPrediction], className: String, heatmap: Heatmap)
    /// Whether the once-per-clip work for `clip` is done (a sector model's scan sector: 16 frames
    /// decoded and compared, a few hundred ms). The calls above do it first when it is not.
    func isReady(for clip: ClipReader) -> Bool
    /// Does that work now: the screen calls it while the user is idle, so no key waits for it.
    func prepare(for clip: ClipReader)
}
