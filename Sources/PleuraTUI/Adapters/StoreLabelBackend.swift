import Foundation
import PleuraCore
import PleuraStore

/// The labelling screen's ``LabelBackend`` over PleuraStore: one store session per TUI run, every
/// change one committed write (`synchronous=FULL`) before the call returns.
///
/// ```swift
/// let store = try AnnotationStore.open(path: session.store.path)
/// let backend = try StoreLabelBackend(store: store, annotator: "alice", sessionName: "ward 3")
/// try backend.register(info)                       // before labelling a media file
/// ```
public final class StoreLabelBackend: LabelBackend {
    public let store: AnnotationStore
    public let annotator: PleuraStore.Annotator
    public let storeSession: StoreSession
    /// sha256 → labelled frames, built by one scan on first use and kept up to date here.
    private var labelled: [String: Set<Int>]?

    public init(store: AnnotationStore, annotator name: String, sessionName: String, mode: String = "label") throws {
        self.store = store
        annotator = try store.annotator(named: name, role: .labeller)
        storeSession = try store.beginSession(annotator: annotator, name: sessionName, mode: mode)
    }

    /// Records a media file (by content hash) so labels can refer to it.
    public func register(sha256: String, path: String, kind: String, width: Int, height: Int, fps: Double, frames: Int) throws {
        try store.registerMedia(sha256: sha256, path: path,
                                facts: MediaFacts(kind: kind, width: width, height: height, fps: fps, frames: frames))
    }

    public func labels(of item: ItemRef) throws -> LabelSet {
        try store.currentLabels(item: item, annotator: annotator)
    }

    public func apply(_ changes: [LabelChange], to item: ItemRef) throws -> LabelSet {
        if changes.count == 1, let change = changes.first {
            try store.setLabel(item: item, field: change.field, value: change.value, annotator: annotator, session: storeSession)
        } else {
            // Several fields (carry forward) are one action: one transaction, one undo step.
            var labels = try self.labels(of: item)
            for change in changes { labels.apply(change) }
            try store.setLabels(item: item, to: labels, annotator: annotator, session: storeSession)
        }
        return try readBack(item)
    }

    public func undo() throws -> LabelEdit? {
        try edit(try store.undo(annotator: annotator, session: storeSession))
    }

    public func redo() throws -> LabelEdit? {
        try edit(try store.redo(annotator: annotator, session: storeSession))
    }

    /// The item an undo or redo touched and what it changed (events of label fields only).
    private func edit(_ events: [LabelEvent]) throws -> LabelEdit? {
        guard let item = events.first?.item else { return nil }
        let changes = events.compactMap { e -> LabelEdit.FieldChange? in
            guard let field = e.labelField else { return nil }
            return LabelEdit.FieldChange(field: field, old: e.oldValue.flatMap { try? LabelValue.parse(field: field, text: $0) },
                                         new: e.newValue.flatMap { try? LabelValue.parse(field: field, text: $0) })
        }
        return LabelEdit(item: item, labels: try readBack(item), changes: changes)
    }

    public func labelledFrames(ofMedia sha256: String) throws -> Set<Int> {
        if labelled == nil {
            var shaByID: [Int64: String] = [:]
            for m in try store.allMedia() { shaByID[m.id] = m.sha256 }
            var map: [String: Set<Int>] = [:]
            let me = annotator.id
            try store.forEachCurrentLabels(level: .frame) { mediaID, frame, annotatorID, _ in
                guard annotatorID == me, let frame, let sha = shaByID[mediaID] else { return }
                map[sha, default: []].insert(frame)
            }
            labelled = map
        }
        return labelled?[sha256] ?? []
    }

    /// The item's labels as committed, also keeping the labelled-frames index (if built) current.
    private func readBack(_ item: ItemRef) throws -> LabelSet {
        let stored = try labels(of: item)
        if let frame = item.frame, labelled != nil {
            if stored.isEmpty { labelled?[item.mediaSHA256]?.remove(frame) }
            else { labelled?[item.mediaSHA256, default: []].insert(frame) }
        }
        return stored
    }
}
