import ArgumentParser
import Foundation
import PleuraCore
import PleuraMedia
import PleuraModel
import PleuraStore

/// Set by SIGINT/SIGTERM: `infer` finishes the frame in hand, commits it and stops.
nonisolated(unsafe) private var inferStopRequested: sig_atomic_t = 0

/// `pleura infer --store DB [--model PATH] [FILE...]` or `pleura infer --session FILE`
struct InferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Store the model's predictions and heatmaps for the frames of a session or of given files.",
        discussion: """
            For each frame: every head's class probabilities (with their MC-dropout uncertainty when \
            the model has one), and one heatmap (8-bit, with its sha256) \
            of the default head's most probable class, keyed by the model file's sha256. Each frame is \
            committed on its own, so the run can be interrupted (Ctrl-C finishes the frame in hand) and \
            resumed: frames already done for this model are skipped. With --session, the session's media, \
            sampled frames, store, model and heatmap method are used (options given explicitly win). \
            Without FILE or --session, every media file registered in the store is processed. Progress \
            (frames/s, ETA) goes to stderr.
            """)

    @Option(help: "The annotation store (SQLite file; created if missing). Default with --session: the session's store.")
    var store: String?

    @Option(help: "A session file (Sessions/*.toml): infer its media's sampled frames with its model.")
    var session: String?

    @Argument(help: "Video or image files (default: all media in the store).")
    var files: [String] = []

    @Option(help: "Heatmap method: gradcam, gradcam++, layercam or pocovid (default: the session's, else gradcam).")
    var method: String?

    @Option(help: "Process every Nth frame (default 1 = all; with --session: the session's sampling).")
    var every: Int?

    @Flag(help: "No progress line.")
    var quiet = false

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        var session: Session? = nil
        if let sessionPath = self.session {
            let url = URL(fileURLWithPath: sessionPath).standardizedFileURL
            guard FileManager.default.fileExists(atPath: url.path) else { throw PleuraError(file: sessionPath, "no such session file") }
            session = try Session.load(url)
            guard files.isEmpty else { throw PleuraError(file: sessionPath, "give either --session or FILEs, not both") }
        }
        let cam: HeatmapMethod
        if let method {
            guard let m = HeatmapMethod(name: method) else {
                throw PleuraError(file: nil, "unknown --method \(method); use one of: " + HeatmapMethod.validNames)
            }
            cam = m
        } else {
            cam = session?.model?.heatmap ?? .gradcam
        }
        if let every, every < 1 { throw PleuraError(file: nil, "--every must be 1 or more") }
        guard let store = store ?? session?.store.path else {
            throw PleuraError(file: nil, "--store is missing (or pass --session FILE to use the session's store)")
        }
        // Which frames of a clip with n frames: --every, else the session's sampling, else all.
        let sampling: Session.Sampling = every.map { $0 == 1 ? .everyFrame : .everyNth($0) } ?? session?.sampling ?? .everyFrame
        var modelOptions = self.modelOptions
        if modelOptions.model == nil { modelOptions.model = session?.model?.path }
        // From here on Ctrl-C / SIGTERM stop cleanly after the frame in hand (also during loading).
        signal(SIGINT) { _ in inferStopRequested = 1 }
        signal(SIGTERM) { _ in inferStopRequested = 1 }
        // A parent may have left them blocked (the mask survives exec): unblock, or Ctrl-C never arrives.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        defer { signal(SIGINT, SIG_DFL); signal(SIGTERM, SIG_DFL) }
        // Load the model (libtorch's libraries, the TorchScript, a check run) on another core while
        // the store and the media open: about half a second less before the first frame.
        // The model and its file's sha256 load on another thread while the store and media open.
        let options = modelOptions
        let loading = BackgroundJob { () throws -> (ModelRuntime, String) in
            let model = try options.load()
            return (model, try SHA256.hexOfFile(atPath: model.modelURL.path))
        }
        if session != nil {
            try? FileManager.default.createDirectory(at: URL(fileURLWithPath: store).deletingLastPathComponent(), withIntermediateDirectories: true)
        }
        let db = try AnnotationStore.open(path: store)
        var paths = files
        if let session {
            paths = try TUILauncher.mediaFiles(session).map(\.path)
            if paths.isEmpty { throw PleuraError(file: session.file.path, "the session has no media") }
        } else if paths.isEmpty {
            paths = try db.allMedia().map(\.path)
            if paths.isEmpty { throw PleuraError(file: store, "no media in the store and no FILE given; pass files to infer") }
        }
        // The progress total and ETA need every clip's frame count first: probe each file (the
        // cached frame index, or one decode that caches it) without keeping it open. Holding a
        // MediaReader per clip kept every clip's demuxed packets and decoder alive to the end, so
        // memory grew with the number of files (1.7 GB over 362 clips); now one clip is open at a
        // time and peak memory does not depend on how many there are (`pleura bench --suite model`).
        var clips: [(path: String, info: MediaInfo)] = []
        var failed = 0
        for p in paths {
            do {
                for file in try MediaReader.mediaPaths(p) { clips.append((file, try MediaReader.probe(path: file))) }
            } catch let e as PleuraError { reportError(e); failed += 1 }
        }
        let (model, modelSHA) = try loading.wait().get()
        let head = model.card.defaultHead

        let writer = InferWriter(store: db)
        let progress = InferProgress(total: clips.reduce(0) { $0 + sampling.frames(count: $1.info.frames).count }, quiet: quiet)
        // What earlier runs finished, read once for all files (resuming must not rescan the
        // whole prediction table per file).
        var doneByMedia: [String: Set<Int>] = [:]
        for p in try db.predictions(modelSHA256: modelSHA, head: head) {
            if let f = p.item.frame { doneByMedia[p.item.mediaSHA256, default: []].insert(f) }
        }
        for (path, info) in clips {
            let record = try db.registerMedia(sha256: info.sha256, path: path, facts: MediaFacts(
                kind: info.kind, codec: info.codec, width: info.width, height: info.height, fps: info.fps, frames: info.frames)).record
            let wanted = Set(sampling.frames(count: info.frames))
            let done = doneByMedia[record.sha256] ?? []
            if wanted.isSubset(of: done) {
                // Finished in an earlier run: no need to decode the clip at all.
                for _ in wanted { progress.skipped(file: path) }
                continue
            }
            do {
                // Frames are read once, in order: no decoded-frame cache needed.
                let reader = try MediaReader(path: path, cacheBytes: 0)
                guard reader.info.sha256 == info.sha256 else {
                    throw PleuraError(file: path, "the file changed while infer ran; run the command again")
                }
                // Sector models: the clip's scan sector from its sample frames, once per clip.
                let sector = try ClipSector.sector(for: model, reader: reader)
                try reader.forEachFrame(format: .rgb24) { index, image in
                    if inferStopRequested != 0 { throw InferInterrupted() }
                    try writer.check()
                    guard wanted.contains(index), let image else { return }
                    if done.contains(index) { progress.skipped(file: path); return }
                    let item = ItemRef(mediaSHA256: record.sha256, frame: index)
                    let r: Analysis
                    do { r = try model.analysis(image, sector: sector, targets: [.top(head: head)], methods: [cam]) }
                    catch let e as PleuraError { throw PleuraError(file: e.file, "frame \(index) of \(path): " + e.reason) }
                    let map = r.heatmaps[0]
                    let heatmap = HeatmapRecord(item: item, modelSHA256: modelSHA, method: cam.rawValue, target: map.target,
                                                layer: model.card.gradCAMLayer, map: map.gray8)
                    var rows: [Prediction] = []
                    for (h, probs) in r.predictions {
                        for (c, p) in probs {
                            rows.append(Prediction(item: item, modelSHA256: modelSHA, head: h, className: c, probability: Double(p),
                                                   uncertainty: r.uncertainty[h]?[c].map { min(1, Double($0)) }))
                        }
                    }
                    writer.enqueue(heatmap: heatmap, predictions: rows) { progress.did(file: path) }
                }
            } catch is InferInterrupted {
                writer.drain()
                progress.finish()
                throw PleuraError(file: store, "interrupted after \(progress.processed) new frames; everything shown as done is saved, run the same command again to resume")
            } catch let e as PleuraError {
                writer.drain()
                reportError(e); failed += 1
            }
            writer.drain()
            try writer.check()
        }
        progress.finish()
        if failed > 0 { throw ExitCode(1) }
    }
}

private struct InferInterrupted: Error {}

/// Writes each frame's results on a background queue, so the store's fsyncs (synchronous=FULL, two
/// transactions per frame) overlap the next frame's decoding and inference instead of adding to it.
/// At most 8 frames wait; each frame is still committed on its own, heatmap first, predictions last
/// (the "done" marker a resumed run looks for), and counted in the progress only once committed.
final class InferWriter: @unchecked Sendable {
    private let store: AnnotationStore
    private let queue = DispatchQueue(label: "pleura.infer.writer")
    private let slots = DispatchSemaphore(value: 8)
    private let lock = NSLock()
    private var failure: PleuraError?

    init(store: AnnotationStore) { self.store = store }

    func enqueue(heatmap: HeatmapRecord, predictions: [Prediction], committed: @escaping @Sendable () -> Void) {
        slots.wait()
        queue.async {
            defer { self.slots.signal() }
            guard self.error == nil else { return }
            do {
                try self.store.insertHeatmap(heatmap)
                try self.store.insertPredictions(predictions)
                committed()
            } catch let e as PleuraError {
                self.lock.lock(); self.failure = e; self.lock.unlock()
            } catch {
                self.lock.lock(); self.failure = PleuraError(file: nil, "\(error)"); self.lock.unlock()
            }
        }
    }

    private var error: PleuraError? { lock.lock(); defer { lock.unlock() }; return failure }

    /// Throws the first write error, if any.
    func check() throws { if let e = error { throw e } }

    /// Waits until every queued frame is committed.
    func drain() { queue.sync {} }
}

/// The progress line: `infer 120/600 frames (30 skipped)  41.2 frames/s  ETA 0:11  clip.mp4`.
/// Redrawn in place at most 4 times a second on a terminal; one line every 5 s otherwise.
final class InferProgress: @unchecked Sendable {
    let total: Int
    let quiet: Bool
    /// What the line says is being done, and to what (`verify` … `maps` for `pleura ratings verify`).
    let verb: String, unit: String
    let tty = isatty(2) != 0
    private let lock = NSLock()
    private var processedCount = 0
    private var skippedCount = 0
    var processed: Int { lock.lock(); defer { lock.unlock() }; return processedCount }
    private let start = Measure.now()
    private var lastDraw = 0.0

    init(total: Int, quiet: Bool, verb: String = "infer", unit: String = "frames") {
        self.total = total; self.quiet = quiet; self.verb = verb; self.unit = unit
    }

    func did(file: String) { lock.lock(); processedCount += 1; draw(file: file); lock.unlock() }
    func skipped(file: String) { lock.lock(); skippedCount += 1; draw(file: file); lock.unlock() }

    var elapsed: Double { Measure.now() - start }

    var line: String {
        let rate = elapsed > 0 ? Double(processedCount) / elapsed : 0
        let remaining = total - processedCount - skippedCount
        let eta = rate > 0 ? Int(Double(remaining) / rate) : 0
        return "\(verb) \(processedCount + skippedCount)/\(total) \(unit)" + (skippedCount > 0 ? " (\(skippedCount) already done)" : "")
            + String(format: "  %.1f \(unit)/s  ETA %d:%02d", rate, eta / 60, eta % 60)
    }

    private func draw(file: String) {
        guard !quiet else { return }
        let now = elapsed
        guard now - lastDraw >= (tty ? 0.25 : 5) else { return }
        lastDraw = now
        let name = SafeText.sanitize(URL(fileURLWithPath: file).lastPathComponent)
        FileHandle.standardError.write(Data(((tty ? "\r\u{1B}[K" : "") + line + "  " + name + (tty ? "" : "\n")).utf8))
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        guard !quiet else { return }
        FileHandle.standardError.write(Data(((tty ? "\r\u{1B}[K" : "") + line + String(format: "  done in %.1f s\n", elapsed)).utf8))
    }
}
