import Foundation
import PleuraCore
import PleuraStore

/// Review mode's ``ReviewBackend`` over PleuraStore: one store session per run; reviews are rows
/// of the append-only `review` table, each batch one committed transaction.
public final class StoreReviewBackend: ReviewBackend {
    public let store: AnnotationStore
    public let trainee: PleuraStore.Annotator
    public let reference: PleuraStore.Annotator
    public let storeSession: StoreSession
    let modelOptions: ModelAnswerOptions
    private var answersCache: [ItemLevel: [String: [ItemRef: ModelAnswer]]] = [:]

    public init(store: AnnotationStore, trainee name: String, reference: PleuraStore.Annotator, sessionName: String,
                models: ModelAnswerOptions) throws {
        self.store = store
        self.reference = reference
        trainee = try store.annotator(named: name, role: .trainee)
        storeSession = try store.beginSession(annotator: trainee, name: sessionName, mode: "review")
        modelOptions = models
    }

    public func context(of item: ItemRef) throws -> ReviewItemContext {
        let names = Dictionary(uniqueKeysWithValues: try store.annotators().map { ($0.id, ($0.name, $0.role)) })
        let labels = try store.currentLabelsByAnnotator(item: item)
        let others = labels.filter { $0.key != reference.id && $0.key != trainee.id && names[$0.key]?.1 != .model && names[$0.key]?.1 != .trainee }
            .map { (name: names[$0.key]?.0 ?? "?", labels: $0.value) }.sorted { $0.name < $1.name }
        let level: ItemLevel = item.frame == nil ? .video : .frame
        if answersCache[level] == nil { answersCache[level] = try store.modelAnswers(level: level, options: modelOptions) }
        let models = answersCache[level]!.keys.sorted().compactMap { answersCache[level]![$0]?[item] }
        return ReviewItemContext(reference: (reference.name, labels[reference.id] ?? LabelSet()), others: others, models: models)
    }

    public func ownReviews() throws -> [Review] {
        try store.reviews().filter { $0.annotatorID == trainee.id }
    }

    public func record(_ reviews: [Review]) throws -> [Review] {
        try store.addReviews(reviews, annotator: trainee, session: storeSession)
    }
}
