import ArgumentParser
import Foundation
import PleuraCore
import PleuraMedia
import PleuraModel
import PleuraStore

/// `pleura ratings simulate --store DB [--raters N] [--frames N] [--seed S] [--no-paired] [--scale seven|born] [--whole-clips N]`
///
/// A panel study with simulated raters, for tests, benchmarks and the README's report picture:
/// real maps of the registered clips (computed with the model and stored, as the rate screen
/// caches them on first view) and ratings written through the same store API the rate screen
/// uses. Deterministic for a seed.
struct RatingsSimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Fill a store with a simulated panel study (real maps, simulated raters) for testing the report.",
        discussion: """
            For every clip registered in the store (`pleura add`), --frames evenly spaced frames; for \
            each, the model's Grad-CAM and LayerCAM maps of its most probable diagnosis are computed \
            and stored. Each simulated rater (rater-1, rater-2, …) then answers every item: a paired \
            trial of both maps in slots drawn per rater (or, with --no-paired, the Grad-CAM map \
            alone): a rating from a shared item effect, a method and class effect, the rater's bias and \
            noise; patterns seen and highlighted; a class guess; which map is better; time spent. The \
            same seed gives the same study. Not for real studies: the answers are invented.
            """)

    @Option(help: "Store database with registered clips.")
    var store: String

    @Option(help: "How many simulated raters (2–20).")
    var raters: Int = 3

    @Option(help: "Frames rated per clip.")
    var frames: Int = 3

    @Option(help: "Seed of the simulated answers.")
    var seed: UInt64 = 1

    @Flag(inversion: .prefixedNo, help: "Paired trials (Grad-CAM vs LayerCAM) or single Grad-CAM maps.")
    var paired = true

    @Option(help: "seven (−3…3) or born (no 0).")
    var scale: String = "seven"

    @Option(name: .customLong("whole-clips"), help: "Also rate this many whole clips (the first ones), each played with its per-frame Grad-CAM maps.")
    var wholeClips: Int = 0

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        guard (2...20).contains(raters) else { throw PleuraError(file: nil, "--raters must be 2 to 20") }
        guard frames >= 1 else { throw PleuraError(file: nil, "--frames must be 1 or more") }
        guard let scale = RatingScale(rawValue: scale) else { throw PleuraError(file: nil, "--scale must be seven or born") }
        let db = try openExistingStore(store, next: "register clips with `pleura add`")
        let media = try db.allMedia().sorted { $0.path < $1.path }
        guard !media.isEmpty else { throw PleuraError(file: store, "no clips registered: run `pleura add CLIPS --store \(store)` first") }
        let model = try modelOptions.load()
        let modelSHA = try SHA256.hexOfFile(atPath: model.modelURL.path)
        let head = model.card.defaultHead
        let classes = model.card.head(named: head)?.classes ?? []
        let overlay = OverlaySettings(colormap: "jet", opacity: 0.5, threshold: nil)

        // The items and their two maps, computed once and stored.
        struct Item { var ref: ItemRef; var predicted: String; var gradcam: HeatmapRecord; var layercam: HeatmapRecord }
        var items: [Item] = []
        for m in media {
            let reader = try MediaReader(path: m.path, cacheBytes: 0)
            let sector = try ClipSector.sector(for: model, reader: reader)
            let n = reader.info.frames
            let chosen = Array(Set((0..<min(frames, n)).map { (2 * $0 + 1) * n / (2 * min(frames, n)) })).sorted()
            for f in chosen {
                let ref = ItemRef(mediaSHA256: m.sha256, frame: f)
                let result = try model.analyse(try reader.frame(f, format: .rgb24), sector: sector, targets: [.top(head: head)],
                                               methods: [.gradcam, .layercam])
                let records = result.heatmaps.map {
                    HeatmapRecord(item: ref, modelSHA256: modelSHA, method: $0.method.rawValue, target: $0.target,
                                  layer: model.card.gradCAMLayer, map: $0.gray8)
                }
                for r in records { try db.insertHeatmap(r) }
                items.append(Item(ref: ref, predicted: result.heatmaps[0].className, gradcam: records[0], layercam: records[1]))
            }
        }

        // Whole clips: every frame's map of one class (the middle frame's most probable), stored
        // per frame as the rate screen caches them; the clip's map hash covers them all.
        var clipItems: [(ref: ItemRef, context: HeatmapContext)] = []
        for m in media.prefix(max(0, wholeClips)) {
            let reader = try MediaReader(path: m.path, cacheBytes: 0)
            let sector = try ClipSector.sector(for: model, reader: reader)
            let middle = try model.analyse(try reader.frame(reader.info.frames / 2, format: .rgb24), sector: sector, targets: [.top(head: head)],
                                           methods: [.gradcam]).heatmaps[0]
            var frameMaps: [(frame: Int, sha256: String)] = []
            try reader.forEachFrame(format: .rgb24) { index, image in
                guard let image else { return }
                let record = try RatedHeatmaps.record(item: ItemRef(mediaSHA256: m.sha256, frame: index), image: image, model: model,
                                                      modelSHA256: modelSHA, method: .gradcam,
                                                      target: CAMTarget(head: head, className: middle.className), sector: sector)
                try db.insertHeatmap(record)
                frameMaps.append((index, record.sha256))
            }
            clipItems.append((ItemRef(mediaSHA256: m.sha256, frame: nil),
                              HeatmapContext(modelSHA256: modelSHA, method: HeatmapMethod.gradcam.rawValue, layer: model.card.gradCAMLayer,
                                             target: middle.target, heatmapSHA256: HeatmapContext.clipSHA256(frameMaps: frameMaps))))
        }

        // The panel.
        func hash(_ s: String) -> UInt64 { s.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 } }
        func normal(_ rng: inout SplitMix64) -> Double {
            (-2 * log(rng.nextUnit())).squareRoot() * cos(2 * Double.pi * rng.nextUnit())
        }
        let truth: [String: [RatingPattern]] = ["covid": [.bLines, .pleuralLine], "pneumonia": [.consolidation, .pleuralLine, .effusion],
                                                "healthy": [.aLines, .pleuralLine]]
        let classEffect = ["covid": 0.4, "pneumonia": 0.8, "healthy": -0.4]
        var written = 0
        for k in 1...raters {
            let name = "rater-\(k)"
            let rater = try db.annotator(named: name, role: .rater)
            let session = try db.beginSession(annotator: rater, name: "simulated panel", mode: "rate")
            var raterRNG = SplitMix64(seed: seed ^ hash(name))
            let bias = 0.5 * normal(&raterRNG)
            for item in items {
                var itemRNG = SplitMix64(seed: seed ^ hash(item.ref.description))
                let itemEffect = 0.8 * normal(&itemRNG)
                var rng = SplitMix64(seed: seed ^ hash(name + "|" + item.ref.description))
                func rating(_ methodEffect: Double) -> HeatmapRating {
                    let x = itemEffect + methodEffect + (classEffect[item.predicted] ?? 0) + bias + 0.7 * normal(&rng)
                    var v = max(-3, min(3, Int(x.rounded())))
                    if v == 0 && !scale.allows(HeatmapRating(rawValue: 0)!) { v = x >= 0 ? 1 : -1 }
                    return HeatmapRating(rawValue: v)!
                }
                let seen = Set((truth[item.predicted] ?? []).filter { _ in rng.nextUnit() < 0.85 }
                               + RatingPattern.allCases.filter { _ in rng.nextUnit() < 0.04 })
                func highlighted(_ p: Double) -> Set<RatingPattern> {
                    Set(seen.sorted().filter { _ in rng.nextUnit() < p } + (rng.nextUnit() < 0.15 ? [.otherTissue] : []))
                }
                let gradcam = MapAnswers(rating: rating(0.7), highlighted: highlighted(0.75))
                let guess = rng.nextUnit() < 0.8 ? item.predicted : classes[Int(rng.next() % UInt64(max(1, classes.count)))]
                let comment = rng.nextUnit() < 0.12 ? "map covers the pleural line" : nil
                let seconds = 4 + 25 * pow(rng.nextUnit(), 2)
                let trial: RatingTrial, answers: TrialAnswers
                let id = "simulated/\(item.ref.mediaSHA256)@\(item.ref.frame ?? -1)"
                if paired {
                    let layercam = MapAnswers(rating: rating(0.1), highlighted: highlighted(0.45))
                    let gradcamFirst = rng.next() % 2 == 0
                    let maps = [RatedMap(heatmap: item.gradcam.context, overlay: overlay, slot: gradcamFirst ? .a : .b),
                                RatedMap(heatmap: item.layercam.context, overlay: overlay, slot: gradcamFirst ? .b : .a)]
                    let order = gradcamFirst ? [0, 1] : [1, 0]
                    let mapAnswers = [gradcam, layercam]
                    let difference = gradcam.rating!.rawValue - layercam.rating!.rawValue
                    let better: PairPreference = difference > 0 ? PairPreference(slot: maps[0].slot!)
                        : difference < 0 ? PairPreference(slot: maps[1].slot!) : (rng.nextUnit() < 0.5 ? .equal : .a)
                    trial = RatingTrial(id: id, item: item.ref, scale: scale, maps: order.map { maps[$0] })
                    answers = TrialAnswers(maps: order.map { mapAnswers[$0] }, classGuess: guess, visible: seen,
                                           comment: comment, better: better)
                } else {
                    trial = RatingTrial(id: id, item: item.ref, scale: scale, maps: [RatedMap(heatmap: item.gradcam.context, overlay: overlay)])
                    answers = TrialAnswers(maps: [gradcam], classGuess: guess, visible: seen, comment: comment)
                }
                try db.recordRating(answers, for: trial, secondsSpent: seconds, annotator: rater, session: session)
                written += trial.maps.count
            }
            for clip in clipItems {
                var rng = SplitMix64(seed: seed ^ hash(name + "|" + clip.ref.description))
                let v = max(-3, min(3, Int((0.5 + bias + 0.8 * normal(&rng)).rounded())))
                let value = v == 0 && scale == .born ? 1 : v
                let trial = RatingTrial(id: "simulated/\(clip.ref.mediaSHA256)@clip", item: clip.ref, scale: scale,
                                        maps: [RatedMap(heatmap: clip.context, overlay: overlay)])
                try db.recordRating(TrialAnswers(maps: [MapAnswers(rating: HeatmapRating(rawValue: value))]), for: trial,
                                    secondsSpent: 10 + 20 * rng.nextUnit(), annotator: rater, session: session)
                written += 1
            }
        }
        print("simulated \(raters) raters × \(items.count) items + \(clipItems.count) whole clips (\(paired ? "paired Grad-CAM vs LayerCAM" : "Grad-CAM"), \(scale.rawValue) scale): \(written) ratings in \(SafeText.sanitize(db.path))")
    }
}
