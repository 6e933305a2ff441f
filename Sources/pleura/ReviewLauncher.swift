import Foundation
import PleuraCore
import PleuraStore
import PleuraTUI

extension TUILauncher {
    /// Builds the shell and its review mode: the queue from the store (the session's `[review]`
    /// settings, with the command line's on top), limited to the session's media, and the model
    /// for heatmaps, with progress on stderr, before the terminal is touched.
    static func prepareReview(session: Session, keymap: Keymap, options: TUIOptions, command: ReviewCommand?) throws -> Shell {
        var session = session
        if let annotator = options.annotator { session.annotator = annotator }
        let settings = try command?.settings(session) ?? session.review ?? ReviewSettings()
        let training = try (command?.models ?? ModelAnswerArguments.parse([])).trainingFiles()
        let storeURL = options.store.map { URL(fileURLWithPath: $0).standardizedFileURL } ?? session.store
        let store = try openExistingStore(storeURL.path, next: "a review needs labels (`pleura import`) and predictions (`pleura infer`) in a store")
        func note(_ s: String) { FileHandle.standardError.write(Data("pleura: \(s)\n".utf8)) }
        let queueOptions = ReviewQueueOptions(settings, trainingFiles: training, excluding: [session.annotator])
        let queue = try store.reviewQueue(queueOptions, root: "/")
        // The session's media by content hash (the queue names media by hash).
        var sequential = session
        sequential.order = .sequential
        var urlOf: [String: URL] = [:]
        for url in try mediaFiles(sequential) { urlOf[try SHA256.hexOfFile(atPath: url.path)] = url }
        var clips: [URL] = [], clipIndex: [String: Int] = [:]
        var items: [ReviewMode.Item] = [], itemIndex: [ItemRef: Int] = [:]
        for e in queue {
            guard let url = urlOf[e.item.mediaSHA256] else { continue }
            if let i = itemIndex[e.item] { items[i].entries.append(e); continue }
            if clipIndex[e.item.mediaSHA256] == nil { clipIndex[e.item.mediaSHA256] = clips.count; clips.append(url) }
            itemIndex[e.item] = items.count
            items.append(ReviewMode.Item(item: e.item, clip: clipIndex[e.item.mediaSHA256]!, entries: [e]))
        }
        guard !items.isEmpty else {
            throw PleuraError(file: session.file.path, "nothing to review: no disagreement with the reference on this session's media"
                              + (queue.isEmpty ? "" : " (\(queue.count) elsewhere in the store)")
                              + "; pleura review \(SafeText.sanitize(session.file.lastPathComponent)) --list shows the queue")
        }
        let reference = try store.referenceAnnotator(settings.reference)
        let backend = try StoreReviewBackend(store: store, trainee: session.annotator, reference: reference, sessionName: session.name,
                                             models: queueOptions.models)
        var model: ReviewModel? = nil, problem: String? = nil
        note("loading model \(session.model.map { $0.path == "embedded" ? "(embedded)" : SafeText.sanitize($0.path) } ?? "(embedded)") for heatmaps")
        do { model = try RuntimeReviewModel(path: session.model?.path) } catch {
            problem = SafeText.sanitize((error as? PleuraError)?.reason ?? "\(error)")
            note("no heatmaps: " + problem!)
        }
        note("\(items.count) items to review against \(SafeText.sanitize(reference.name)) for \(SafeText.sanitize(session.annotator))")
        let mode = try ReviewMode(items: items, quiz: settings.quiz, schema: session.schema, backend: backend, model: model,
                                  modelProblem: problem, method: session.model?.heatmap ?? .gradcam, trainee: session.annotator)
        let shell = Shell(session: session, keymap: keymap, media: clips, mode: mode) { url in try MediaClipReader(url: url) }
        try mode.start(shell)
        return shell
    }
}
