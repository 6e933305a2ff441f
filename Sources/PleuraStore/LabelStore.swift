import Foundation
import PleuraCore

/// The annotation store as its users see it, whatever holds it: an SQLite file
/// (``AnnotationStore``) or a PostgreSQL server (`PostgresStore` in PleuraStorePostgres).
/// Code written against this protocol runs on both.
///
/// Every backend keeps these promises (docs/store.md):
/// - **Saved before it says so.** A method that changes data is one transaction; it returns only
///   after the database confirmed the commit durably (SQLite `synchronous=FULL`; PostgreSQL
///   `synchronous_commit=on`). A method that throws has changed nothing.
/// - **History is append-only.** Events (and media, annotators, sessions) are never updated or
///   deleted; the database itself refuses it (triggers), not only this code.
/// - **Current state is derived.** Current labels and ratings are the newest event per key,
///   maintained in the same transaction as the event; ``verifyCurrentState()`` recomputes them
///   from the log (0 = faithful).
/// - **Undo appends.** ``undo(annotator:session:)`` and ``redo(annotator:session:)`` append
///   inverse events; the stacks are rebuilt per annotator and session from the log.
/// - **Concurrent writers lose nothing.** Old values are read inside the writing transaction;
///   busy or failed-over databases are retried with backoff, and a retried write never appends
///   its events twice.
/// - **A newer schema is refused untouched**, and an older one is migrated on open.
public protocol LabelStore: AnyObject, Sendable {
    /// Where the store lives, for messages: a file path, or a `postgresql://` URL (never with a password).
    var location: String { get }

    /// Registers media by content hash (see ``AnnotationStore/registerMedia(sha256:path:facts:)``).
    @discardableResult
    func registerMedia(sha256: String, path: String, facts: MediaFacts) throws -> MediaRegistration
    /// The media with this content hash, or nil.
    func media(sha256: String) throws -> MediaRecord?
    /// The media most recently registered at this absolute path, or nil.
    func media(atPath path: String) throws -> MediaRecord?

    /// The annotator with this name, created with `role` when new (an existing one keeps its role).
    func annotator(named name: String, role: AnnotatorRole) throws -> Annotator
    /// The annotator with this name, or nil.
    func annotator(named name: String) throws -> Annotator?
    /// Starts a session (undo/redo stacks are per annotator and session).
    func beginSession(annotator: Annotator, name: String, mode: String) throws -> StoreSession

    /// Sets one label field (nil: not assessed); returns the committed event, nil when nothing changed.
    @discardableResult
    func setLabel(item: ItemRef, field: LabelField, value: LabelValue?, annotator: Annotator,
                  session: StoreSession) throws -> LabelEvent?
    /// Makes the annotator's labels of an item equal to `labels`, in one action (one undo step).
    @discardableResult
    func setLabels(item: ItemRef, to labels: LabelSet, annotator: Annotator, session: StoreSession,
                   kind: LabelEvent.Kind) throws -> [LabelEvent]
    /// The annotator's current labels of one item.
    func currentLabels(item: ItemRef, annotator: Annotator) throws -> LabelSet
    /// Current labels of every annotator for one item, keyed by annotator id (non-empty sets only).
    func currentLabelsByAnnotator(item: ItemRef) throws -> [Int64: LabelSet]

    /// Rates one heatmap of an item outside any trial (rating and comment are one action).
    @discardableResult
    func setRating(item: ItemRef, context: HeatmapContext, rating: HeatmapRating?, comment: String?,
                   annotator: Annotator, session: StoreSession, kind: LabelEvent.Kind) throws -> [LabelEvent]
    /// The annotator's current rating of that heatmap of that item outside any trial.
    func currentRating(item: ItemRef, context: HeatmapContext, annotator: Annotator) throws -> (rating: HeatmapRating?, comment: String?)

    /// Undoes the newest not-undone action of the annotator in the session (appends events; empty: nothing to undo).
    @discardableResult
    func undo(annotator: Annotator, session: StoreSession) throws -> [LabelEvent]
    /// Redoes the newest undone action (empty when none, or when a change followed the undo).
    @discardableResult
    func redo(annotator: Annotator, session: StoreSession) throws -> [LabelEvent]
    /// Whether undo / redo would do something.
    func undoState(annotator: Annotator, session: StoreSession) throws -> (canUndo: Bool, canRedo: Bool)

    /// Every event about one item (all annotators), oldest first.
    func history(item: ItemRef) throws -> [LabelEvent]
    /// The number of events in the log.
    func eventCount() throws -> Int
    /// Keys of the current state that disagree with the event log (0 when faithful).
    func verifyCurrentState() throws -> Int
}

extension LabelStore {
    /// When `path` was registered before with other content, that earlier record (see
    /// ``AnnotationStore/changedContent(atPath:sha256:)``).
    @_disfavoredOverload
    public func changedContent(atPath path: String, sha256: String) throws -> MediaRecord? {
        guard let known = try media(atPath: path) else { return nil }
        return known.sha256 == sha256.lowercased() ? nil : known
    }

    /// ``setLabels(item:to:annotator:session:kind:)`` as the user's own change. (Disfavoured: on
    /// an ``AnnotationStore`` its own method with the defaulted `kind` is the one called.)
    @_disfavoredOverload @discardableResult
    public func setLabels(item: ItemRef, to labels: LabelSet, annotator: Annotator, session: StoreSession) throws -> [LabelEvent] {
        try setLabels(item: item, to: labels, annotator: annotator, session: session, kind: .set)
    }

    /// ``setRating(item:context:rating:comment:annotator:session:kind:)`` as the user's own change.
    @_disfavoredOverload @discardableResult
    public func setRating(item: ItemRef, context: HeatmapContext, rating: HeatmapRating?, comment: String?,
                          annotator: Annotator, session: StoreSession) throws -> [LabelEvent] {
        try setRating(item: item, context: context, rating: rating, comment: comment, annotator: annotator,
                      session: session, kind: .set)
    }
}

extension AnnotationStore: LabelStore {
    public var location: String { path }
}
