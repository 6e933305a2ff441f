import ArgumentParser
import Foundation
import PleuraCore
import PleuraMedia
import PleuraModel
import PleuraStore

/// `pleura ratings verify|simulate`: checks on, and synthetic data for, heatmap-rating studies.
struct RatingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ratings",
        abstract: "Check that every rated heatmap can be reproduced (verify); make a simulated panel study (simulate).",
        subcommands: [RatingsVerifyCommand.self, RatingsSimulateCommand.self])
}

/// Finds model files by their SHA-256 among the ones a user can name.
struct ModelFinder {
    private var byHash: [String: URL] = [:]

    /// Candidates: `paths`, then `$PLEURA_MODEL`, the embedded model and every `.pt` beside it.
    init(paths: [String]) {
        var candidates = paths.map { URL(fileURLWithPath: $0) }
        if let env = ProcessInfo.processInfo.environment["PLEURA_MODEL"], !env.isEmpty { candidates.append(URL(fileURLWithPath: env)) }
        if let embedded = Model.defaultModelURL {
            candidates.append(embedded)
            let folder = embedded.deletingLastPathComponent()
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.sorted() ?? [] where name.hasSuffix(".pt") {
                candidates.append(folder.appendingPathComponent(name))
            }
        }
        for url in candidates {
            guard let sha = try? SHA256.hexOfFile(atPath: url.path), byHash[sha] == nil else { continue }
            byHash[sha] = url.standardizedFileURL
        }
    }

    func url(sha256: String) -> URL? { byHash[sha256] }
}

/// Computes the map a rating names, as `pleura infer` and the rate screen compute it.
enum RatedHeatmaps {
    /// The explained head and class of a stored target: `head/class`, or a bare class of the
    /// model's default head.
    static func camTarget(_ target: String, card: ModelCard) -> CAMTarget {
        if let slash = target.firstIndex(of: "/") {
            return CAMTarget(head: String(target[..<slash]), className: String(target[target.index(after: slash)...]))
        }
        return CAMTarget(head: card.defaultHead, className: target)
    }

    /// `sector`: the clip's scan sector for sector models (``ClipSector``), as infer and the
    /// rate screen use it.
    static func record(item: ItemRef, image: PixelImage, model: ModelRuntime, modelSHA256: String,
                       method: HeatmapMethod, target: CAMTarget, sector: ScanSector?) throws -> HeatmapRecord {
        let map = try model.analyse(image, sector: sector, targets: [target], methods: [method]).heatmaps[0]
        return HeatmapRecord(item: item, modelSHA256: modelSHA256, method: method.rawValue, target: map.target,
                             layer: model.card.gradCAMLayer, map: map.gray8)
    }
}

/// `pleura ratings verify --store DB [--root DIR] [--model PATH ...]`
struct RatingsVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Regenerate every rated heatmap and report any whose hash differs from the one rated.",
        discussion: """
            For each distinct map that has a rating: the media file (found by its content hash at its \
            stored path, else anywhere under --root), the frame, the model named by its SHA-256 \
            (--model, $PLEURA_MODEL, the embedded model and the .pt files beside it), the method, \
            layer and target; the map is recomputed and hashed exactly as stored maps are (8-bit, as a \
            binary PGM), and compared with the hash the rating recorded and with the map stored in the \
            store. One line per map that differs or cannot be checked, naming the item; a summary last. \
            Progress on stderr. Exit status 1 when any map differs or could not be checked.
            """)

    @Option(help: "Store database.")
    var store: String

    @Option(help: "Folder to look for media files in when they are not at their stored path.")
    var root: String?

    @Option(help: "A model file to consider (repeatable; found by its SHA-256).")
    var model: [String] = []

    @Option(help: "libtorch intra-op threads (default: $PLEURA_THREADS, else 1).")
    var threads: Int?

    @Flag(help: "No progress line.")
    var quiet = false

    func run() throws {
        let db = try openExistingStore(store, next: "ratings are made with `pleura rate SESSION` or `pleura import`")
        let rows = try db.ratings()
        // One check per distinct map; the first rater's row names it.
        var seen = Set<String>(), maps: [RatingRow] = []
        for r in rows where seen.insert("\(r.item)|\(r.heatmap)").inserted { maps.append(r) }
        let media = Dictionary(uniqueKeysWithValues: try db.allMedia().map { ($0.sha256, $0) })
        let finder = ModelFinder(paths: model)
        let progress = InferProgress(total: maps.count, quiet: quiet, verb: "verify", unit: "maps")
        var files = MediaFiles(root: root)
        var models: [String: ModelRuntime] = [:]
        var problems = 0
        func name(_ r: RatingRow) -> String {
            let path = media[r.item.mediaSHA256].map { SafeText.sanitize($0.path) } ?? "media " + r.item.mediaSHA256.prefix(12)
            let frame = r.item.frame.map { "frame \($0)" } ?? "whole clip"
            return "\(path) \(frame) (\(SafeText.sanitize(r.heatmap.method)), \(SafeText.sanitize(r.heatmap.target)), model \(r.heatmap.modelSHA256.prefix(12))…)"
        }
        func report(_ r: RatingRow, _ what: String) {
            problems += 1
            print("\(name(r)): \(what)")
        }
        for r in maps {
            defer { progress.did(file: media[r.item.mediaSHA256]?.path ?? "") }
            let ctx = r.heatmap
            guard !ctx.heatmapSHA256.isEmpty else { report(r, "not checked: the rating records no heatmap hash (imported without one)"); continue }
            guard let method = HeatmapMethod(name: ctx.method) else { report(r, "not checked: unknown method \(SafeText.sanitize(ctx.method))"); continue }
            let runtime: ModelRuntime
            if let loaded = models[ctx.modelSHA256] { runtime = loaded } else {
                guard let url = finder.url(sha256: ctx.modelSHA256) else {
                    report(r, "not checked: no model file with SHA-256 \(ctx.modelSHA256.prefix(16))… (pass it with --model PATH)")
                    continue
                }
                runtime = try Model.load(path: url.path, threads: threads)
                models[ctx.modelSHA256] = runtime
            }
            guard ctx.layer == runtime.card.gradCAMLayer else {
                report(r, "DIFFERS: rated with layer \(SafeText.sanitize(ctx.layer)), the model's Grad-CAM layer is \(runtime.card.gradCAMLayer)")
                continue
            }
            guard let reader = try files.reader(for: r.item.mediaSHA256, stored: media[r.item.mediaSHA256]) else {
                report(r, "not checked: the media file is missing or changed\(root == nil ? " (give --root DIR to search a folder)" : " and is not under \(SafeText.sanitize(root!))")")
                continue
            }
            let target = RatedHeatmaps.camTarget(ctx.target, card: runtime.card)
            let regenerated: String
            do {
                let sector = try ClipSector.sector(for: runtime, reader: reader)
                if let frame = r.item.frame {
                    let image = try reader.frame(frame, format: .rgb24)
                    regenerated = try RatedHeatmaps.record(item: r.item, image: image, model: runtime, modelSHA256: ctx.modelSHA256,
                                                           method: method, target: target, sector: sector).sha256
                } else {
                    var frames: [(frame: Int, sha256: String)] = []
                    try reader.forEachFrame(format: .rgb24) { index, image in
                        guard let image else { return }
                        frames.append((index, try RatedHeatmaps.record(item: ItemRef(mediaSHA256: r.item.mediaSHA256, frame: index),
                                                                       image: image, model: runtime, modelSHA256: ctx.modelSHA256,
                                                                       method: method, target: target, sector: sector).sha256))
                    }
                    regenerated = HeatmapContext.clipSHA256(frameMaps: frames)
                }
            } catch let e as PleuraError {
                report(r, "not checked: \(e.description)")
                continue
            }
            if regenerated != ctx.heatmapSHA256 {
                report(r, "DIFFERS: rated map \(ctx.heatmapSHA256.prefix(16))…, regenerated \(regenerated.prefix(16))…")
                continue
            }
            if r.item.frame != nil {
                do {
                    if let stored = try db.heatmap(item: r.item, modelSHA256: ctx.modelSHA256, method: ctx.method, target: ctx.target,
                                                   layer: ctx.layer), stored.sha256 != ctx.heatmapSHA256 {
                        report(r, "DIFFERS: the map stored in the store (\(stored.sha256.prefix(16))…) is not the rated one")
                    }
                } catch let e as PleuraError {
                    report(r, "DIFFERS: the stored map cannot be read back (\(e.reason))")
                }
            }
        }
        progress.finish()
        print("\(maps.count - problems) of \(maps.count) rated maps reproduced bit for bit (\(rows.count) ratings)"
              + (problems > 0 ? "; \(problems) differ or could not be checked" : ""))
        if problems > 0 { throw ExitCode(1) }
    }
}

/// Media readers by content hash: the stored path when its content still matches, else a file
/// under the search root with that hash (hashed lazily, once).
struct MediaFiles {
    let root: String?
    private var readers: [String: MediaReader?] = [:]
    private var rootIndex: [String: String]? = nil

    init(root: String?) { self.root = root }

    mutating func reader(for sha256: String, stored: MediaRecord?) throws -> MediaReader? {
        if let known = readers[sha256] { return known }
        var path: String? = nil
        if let stored, FileManager.default.fileExists(atPath: stored.path),
           (try? SHA256.hexOfFile(atPath: stored.path)) == sha256 { path = stored.path }
        if path == nil, let root {
            if rootIndex == nil {
                var index: [String: String] = [:]
                let files = FileManager.default.enumerator(atPath: root)
                while let relative = files?.nextObject() as? String {
                    let full = URL(fileURLWithPath: root).appendingPathComponent(relative).path
                    var isDirectory: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue,
                          let sha = try? SHA256.hexOfFile(atPath: full) else { continue }
                    index[sha] = index[sha] ?? full
                }
                rootIndex = index
            }
            path = rootIndex?[sha256]
        }
        let reader = try path.map { try MediaReader(path: $0, cacheBytes: 0) }
        readers[sha256] = .some(reader)
        return reader
    }
}
