import Foundation
import PleuraCore

/// Probabilities per head and class: `predictions["diagnosis"]?["covid"]`.
public typealias Predictions = [String: [String: Float]]

/// One class-activation map at the model's input resolution (the card's width × height).
public struct Heatmap: Sendable, Equatable {
    public var head: String
    public var className: String
    public var method: HeatmapMethod
    public var width: Int
    public var height: Int
    /// Row-major, `width * height` values in [0, 1].
    public var values: [Float]
    /// Where the map lies on the frame: the frame's size and, for sector models, the sector whose
    /// square the model saw (nil: the whole frame was resized to the input).
    public var frameWidth: Int = 0
    public var frameHeight: Int = 0
    public var sector: ScanSector? = nil

    public init(head: String, className: String, method: HeatmapMethod, width: Int, height: Int, values: [Float],
                frameWidth: Int = 0, frameHeight: Int = 0, sector: ScanSector? = nil) {
        self.head = head; self.className = className; self.method = method
        self.width = width; self.height = height; self.values = values
        self.frameWidth = frameWidth; self.frameHeight = frameHeight; self.sector = sector
    }

    /// The map on the frame's own pixel grid (`frameWidth × frameHeight`), bilinear with half-pixel
    /// centres, 0 outside the region the model saw (outside the sector for sector models). Without
    /// frame geometry (a map from a bare input tensor) the map itself.
    public func onFrameGrid() -> (width: Int, height: Int, values: [Float]) {
        guard frameWidth > 0, frameHeight > 0 else { return (width, height, values) }
        let src = values.map(Double.init)
        guard let s = sector else {
            let r = CAMMath.resizeBilinear(src, width: width, height: height, outWidth: frameWidth, outHeight: frameHeight)
            return (frameWidth, frameHeight, r.map { Float($0) })
        }
        let side = s.cropSide
        let square = CAMMath.resizeBilinear(src, width: width, height: height, outWidth: side, outHeight: side)
        var out = [Float](repeating: 0, count: frameWidth * frameHeight)
        for y in 0..<frameHeight {
            let sy = y - s.cropY
            guard sy >= 0, sy < side else { continue }
            for x in 0..<frameWidth where s.mask[y * frameWidth + x] != 0 {
                let sx = x - s.cropX
                guard sx >= 0, sx < side else { continue }
                out[y * frameWidth + x] = Float(square[sy * side + sx])
            }
        }
        return (frameWidth, frameHeight, out)
    }
}

/// One frame's results: probabilities, their MC-dropout spread where the model provides it
/// (standard deviation of each class's probability over the samples; empty for models without
/// `uncertainty_output`), and the maps asked for (target-major).
public struct Analysis: Sendable {
    public var predictions: Predictions
    public var uncertainty: Predictions
    public var heatmaps: [Heatmap]
}

/// What to explain: a head and one of its classes.
public struct CAMTarget: Sendable, Hashable {
    public var head: String
    /// nil: the head's most probable class (highest logit), decided in the same pass.
    public var className: String?
    public init(head: String, className: String?) { self.head = head; self.className = className }
    /// The head's most probable class.
    public static func top(head: String) -> CAMTarget { CAMTarget(head: head, className: nil) }
}

/// A TorchScript model plus its card, running in this process through the libtorch shim.
///
/// ```swift
/// let model = try ModelRuntime.load(Model.defaultModelURL!)          // throws PleuraError
/// let p = try model.predict(frame)                                   // ["diagnosis": ["covid": 0.8, ...], ...]
/// let map = try model.heatmap(frame, head: "diagnosis", class: "covid", method: .gradcam)
/// // map.values: map.width × map.height floats in [0, 1]; overlay with map.method.overlayWeights
/// ```
/// One model may be used from several threads; calls are serialised (libtorch itself uses
/// ``threads`` intra-op threads per call).
public final class ModelRuntime: @unchecked Sendable {
    public let modelURL: URL
    public let card: ModelCard
    /// Shape of `features(x)` for one image (channels, height, width).
    public let featureShape: (channels: Int, height: Int, width: Int)

    private let shim: TorchShim
    private let handle: OpaquePointer
    private let lock = NSLock()
    /// Output names of `head` mapped to card head names ("" → the card's only head).
    private let outputNames: [String: String]

    /// Loads `NAME.pt` and its card `NAME.json`, checks the card against the model's real outputs
    /// (by running one blank frame) and sets libtorch's thread count when `threads` is given.
    public static func load(_ url: URL, threads: Int? = nil) throws -> ModelRuntime {
        try ModelRuntime(url: url, threads: threads)
    }

    public static func load(path: String, threads: Int? = nil) throws -> ModelRuntime {
        try load(URL(fileURLWithPath: path), threads: threads)
    }

    /// Sets libtorch's intra-op thread count for the whole process (`at::set_num_threads`).
    public static func setThreads(_ threads: Int) throws {
        let shim = try TorchShim.shared.get()
        shim.setThreads(Int32(max(1, threads)))
    }

    /// libtorch's current intra-op thread count.
    public static func threads() throws -> Int { Int(try TorchShim.shared.get().getThreads()) }

    /// The card's path for a model file: `NAME.pt` → `NAME.json`.
    public static func cardURL(for modelURL: URL) -> URL {
        modelURL.deletingPathExtension().appendingPathExtension("json")
    }

    private init(url: URL, threads: Int?) throws {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw PleuraError(file: path, "model file not found (pass --model PATH to a TorchScript .pt with its .json card)")
        }
        let card = try ModelCard.read(url: Self.cardURL(for: url))
        let shim = try TorchShim.shared.get()
        if let threads { shim.setThreads(Int32(max(1, threads))) }
        var err = [CChar](repeating: 0, count: 1024)
        guard let handle = shim.load(path, &err, err.count) else {
            throw PleuraError(file: path, TorchShim.message(err))
        }
        self.modelURL = url
        self.card = card
        self.shim = shim
        self.handle = handle
        // Run a blank frame: proves the input size works and lets us check the outputs against the card.
        let blank = [Float](repeating: 0, count: card.input.channels * card.input.width * card.input.height)
        let raw: RawResult
        do {
            raw = try Self.run(shim: shim, handle: handle, input: blank, card: card, targets: [])
        } catch let e as PleuraError {
            shim.free(handle)
            throw PleuraError(file: path, e.reason + " (on a blank \(card.input.channels)x\(card.input.height)x\(card.input.width) input, as the card describes)")
        }
        var names: [String: String] = [:]
        let cardFile = Self.cardURL(for: url).path
        func mismatch(_ why: String) -> PleuraError {
            shim.free(handle)
            return PleuraError(file: cardFile, "model card does not match the model's outputs: \(why)")
        }
        if raw.heads.count == 1, raw.heads[0].name == "" {
            guard card.heads.count == 1 else {
                throw mismatch("head(A) returns one tensor but the card lists \(card.heads.count) heads")
            }
            names[""] = card.heads[0].name
        } else {
            let extra = Dictionary(uniqueKeysWithValues: card.heads.compactMap { h in h.uncertaintyOutput.map { ($0, h) } })
            for h in raw.heads where extra[h.name] == nil { names[h.name] = h.name }
            for (output, head) in extra {
                guard let o = raw.heads.first(where: { $0.name == output }) else {
                    throw mismatch("head \"\(head.name)\" names uncertainty output \"\(output)\", which head(A) does not return")
                }
                guard o.logits.count % head.classes.count == 0, o.logits.count >= 2 * head.classes.count else {
                    throw mismatch("uncertainty output \"\(output)\" has \(o.logits.count) values, not a multiple (2 or more) of \(head.classes.count) classes")
                }
            }
            let got = Set(raw.heads.map(\.name).filter { extra[$0] == nil }), want = Set(card.heads.map(\.name))
            guard got == want else {
                throw mismatch("model heads [\(raw.heads.map(\.name).sorted().joined(separator: ", "))], card heads [\(card.heads.map(\.name).sorted().joined(separator: ", "))]")
            }
        }
        for h in raw.heads {
            guard let name = names[h.name] else { continue }
            let cardHead = card.head(named: name)!
            guard h.logits.count == cardHead.classes.count else {
                throw mismatch("head \"\(cardHead.name)\" has \(h.logits.count) outputs, the card lists \(cardHead.classes.count) classes")
            }
        }
        self.outputNames = names
        self.featureShape = raw.featureShape
    }

    deinit { shim.free(handle) }

    // MARK: Input

    /// The exact tensor fed to the model for a frame: channels × height × width float32, row-major
    /// (the card's crop, resize, grey conversion, scale, mean and std). `pleura heatmap --dump-input`
    /// writes it. Sector models take the clip's ``ScanSector`` (``sector(frames:)``); without one (or
    /// with one of another size) the sector is found from this frame alone.
    public func inputTensor(for image: PixelImage, sector: ScanSector? = nil) -> [Float] {
        Preprocess.tensor(image, input: card.input, sector: resolvedSector(for: image, sector))
    }

    /// Whether this model's input is the scan sector (card `input.crop = "sector"`), so callers know
    /// to sample the clip's frames for ``ScanSector/detect(frames:)``.
    public var usesSector: Bool { card.input.cropsToSector }

    /// The clip's scan sector for this model (``ScanSector/ofClip(frameCount:frame:)``), or nil
    /// without reading a frame when the model sees the whole frame.
    public func clipSector(frameCount: Int, frame: (Int) throws -> PixelImage) rethrows -> ScanSector? {
        guard usesSector else { return nil }
        return try ScanSector.ofClip(frameCount: frameCount, frame: frame)
    }

    func resolvedSector(for image: PixelImage, _ sector: ScanSector?) -> ScanSector? {
        guard card.input.cropsToSector else { return nil }
        if let sector, sector.width == image.width, sector.height == image.height { return sector }
        return ScanSector.detect(frames: [image])
    }

    // MARK: Inference

    /// Probabilities of every head for one frame (softmax for multiclass heads, sigmoid for multilabel).
    public func predict(_ image: PixelImage) throws -> Predictions {
        try analyse(image, targets: [], methods: []).predictions
    }

    /// One class-activation map of `head`/`class` for a frame, at the card's input size.
    public func heatmap(_ image: PixelImage, head: String, class className: String, method: HeatmapMethod) throws -> Heatmap {
        let r = try analyse(image, targets: [CAMTarget(head: head, className: className)], methods: [method])
        return r.heatmaps[0]
    }

    /// Predictions plus heatmaps for several targets and methods, from one forward pass (one backward
    /// pass per target). Heatmaps come target-major: for each target, one per method.
    public func analyse(_ image: PixelImage, sector: ScanSector? = nil, targets: [CAMTarget], methods: [HeatmapMethod]) throws
        -> (predictions: Predictions, heatmaps: [Heatmap])
    {
        let r = try analysis(image, sector: sector, targets: targets, methods: methods)
        return (r.predictions, r.heatmaps)
    }

    /// ``analyse(_:sector:targets:methods:)`` plus the MC-dropout uncertainty; the maps know where
    /// they lie on the frame (``Heatmap/onFrameGrid()``).
    public func analysis(_ image: PixelImage, sector: ScanSector? = nil, targets: [CAMTarget], methods: [HeatmapMethod]) throws -> Analysis {
        let s = resolvedSector(for: image, sector)
        var r = try analysis(input: Preprocess.tensor(image, input: card.input, sector: s), targets: targets, methods: methods)
        for i in r.heatmaps.indices {
            r.heatmaps[i].frameWidth = image.width
            r.heatmaps[i].frameHeight = image.height
            r.heatmaps[i].sector = s
        }
        return r
    }

    /// As ``analyse(_:sector:targets:methods:)`` on an already preprocessed input tensor.
    public func analyse(input: [Float], targets: [CAMTarget], methods: [HeatmapMethod]) throws
        -> (predictions: Predictions, heatmaps: [Heatmap])
    {
        let r = try analysis(input: input, targets: targets, methods: methods)
        return (r.predictions, r.heatmaps)
    }

    /// As ``analysis(_:sector:targets:methods:)`` on an already preprocessed input tensor (maps
    /// without frame geometry).
    public func analysis(input: [Float], targets: [CAMTarget], methods: [HeatmapMethod]) throws -> Analysis {
        let expected = card.input.channels * card.input.height * card.input.width
        guard input.count == expected else {
            throw PleuraError(file: modelURL.path, "input tensor has \(input.count) values, the card needs \(expected)")
        }
        var resolved: [(output: String, index: Int)] = []
        for t in targets {
            guard let head = card.head(named: t.head) else {
                throw PleuraError(file: modelURL.path, "no head \"\(t.head)\"; heads: \(card.heads.map(\.name).joined(separator: ", "))")
            }
            var index = -1
            if let name = t.className {
                guard let i = head.classes.firstIndex(of: name) else {
                    throw PleuraError(file: modelURL.path, "head \"\(t.head)\" has no class \"\(name)\"; classes: \(head.classes.joined(separator: ", "))")
                }
                index = i
            }
            resolved.append((outputNames.first { $0.value == head.name }!.key, index))
        }
        lock.lock()
        defer { lock.unlock() }
        let raw: RawResult
        do { raw = try Self.run(shim: shim, handle: handle, input: input, card: card, targets: resolved) }
        catch let e as PleuraError where e.file == nil { throw PleuraError(file: modelURL.path, e.reason) }
        var predictions: Predictions = [:]
        var uncertainty: Predictions = [:]
        for h in raw.heads {
            guard let name = outputNames[h.name], let head = card.head(named: name) else { continue }
            let probs = Self.probabilities(h.logits, head)
            predictions[name] = Dictionary(uniqueKeysWithValues: zip(head.classes, probs))
            if let u = head.uncertaintyOutput, let samples = raw.heads.first(where: { $0.name == u })?.logits {
                uncertainty[name] = Dictionary(uniqueKeysWithValues: zip(head.classes, Self.spread(samples, head)))
            }
        }
        var maps: [Heatmap] = []
        let (k, fh, fw) = raw.featureShape
        for (t, target) in targets.enumerated() {
            let className = target.className ?? {
                let head = card.head(named: target.head)!
                let p = predictions[target.head] ?? [:]
                return head.classes.max { (p[$0] ?? 0) < (p[$1] ?? 0) } ?? head.classes[0]
            }()
            for m in methods {
                let values = CAMMath.map(method: m, activations: raw.features, gradients: raw.gradients[t],
                                         channels: k, height: fh, width: fw,
                                         outWidth: card.input.width, outHeight: card.input.height)
                if let bad = values.first(where: { !$0.isFinite }) {
                    throw PleuraError(file: modelURL.path, "the \(m.rawValue) map of \(target.head)/\(className) holds \(bad) (not finite): no heatmap; nothing was stored")
                }
                maps.append(Heatmap(head: target.head, className: className, method: m,
                                    width: card.input.width, height: card.input.height, values: values))
            }
        }
        return Analysis(predictions: predictions, uncertainty: uncertainty, heatmaps: maps)
    }

    static func probabilities(_ logits: [Float], _ head: ModelCard.Head) -> [Float] {
        head.isMultilabel ? logits.map { 1 / (1 + Float(exp(-Double($0)))) } : softmax(logits)
    }

    /// Standard deviation (population) of each class's probability over MC-dropout samples laid out
    /// sample-major (`samples × classes` logits).
    static func spread(_ samples: [Float], _ head: ModelCard.Head) -> [Float] {
        let n = head.classes.count, t = samples.count / n
        var sum = [Double](repeating: 0, count: n), sq = [Double](repeating: 0, count: n)
        for s in 0..<t {
            let p = probabilities(Array(samples[(s * n)..<((s + 1) * n)]), head)
            for c in 0..<n { sum[c] += Double(p[c]); sq[c] += Double(p[c]) * Double(p[c]) }
        }
        return (0..<n).map { c in
            let mean = sum[c] / Double(t)
            return Float(max(0, sq[c] / Double(t) - mean * mean).squareRoot())
        }
    }

    /// Raw logits of every head for a preprocessed input (for tests and scripts comparing numbers).
    public func logits(input: [Float]) throws -> [String: [Float]] {
        lock.lock()
        defer { lock.unlock() }
        let raw: RawResult
        do { raw = try Self.run(shim: shim, handle: handle, input: input, card: card, targets: []) }
        catch let e as PleuraError where e.file == nil { throw PleuraError(file: modelURL.path, e.reason) }
        var out: [String: [Float]] = [:]
        for h in raw.heads { if let n = outputNames[h.name] { out[n] = h.logits } }
        return out
    }

    static func softmax(_ x: [Float]) -> [Float] {
        let m = Double(x.max() ?? 0)
        let e = x.map { exp(Double($0) - m) }
        let s = e.reduce(0, +)
        return e.map { Float($0 / s) }
    }

    // MARK: Shim call

    private struct RawResult {
        var heads: [(name: String, logits: [Float])]
        var featureShape: (channels: Int, height: Int, width: Int)
        var features: [Float]
        var gradients: [[Float]]
    }

    private static func run(shim: TorchShim, handle: OpaquePointer, input: [Float], card: ModelCard,
                            targets: [(output: String, index: Int)]) throws -> RawResult {
        var err = [CChar](repeating: 0, count: 1024)
        let names = targets.map { strdup($0.output) }
        defer { names.forEach { Foundation.free($0) } }
        let namePointers: [UnsafePointer<CChar>?] = names.map { $0.map { UnsafePointer($0) } }
        let classes = targets.map { Int32($0.index) }
        let result: OpaquePointer? = input.withUnsafeBufferPointer { inp in
            namePointers.withUnsafeBufferPointer { np in
                classes.withUnsafeBufferPointer { cp in
                    shim.run(handle, inp.baseAddress!, Int32(card.input.channels), Int32(card.input.height),
                             Int32(card.input.width), np.baseAddress, cp.baseAddress, Int32(targets.count), &err, err.count)
                }
            }
        }
        guard let result else { throw PleuraError(file: nil, TorchShim.message(err)) }
        defer { shim.resultFree(result) }
        var heads: [(String, [Float])] = []
        for i in 0..<shim.headCount(result) {
            let name = shim.headName(result, i).map { String(cString: $0) } ?? ""
            let n = Int(shim.headSize(result, i))
            let p = shim.headLogits(result, i)!
            heads.append((name, Array(UnsafeBufferPointer(start: p, count: n))))
        }
        var c: Int64 = 0, h: Int64 = 0, w: Int64 = 0
        shim.featuresShape(result, &c, &h, &w)
        let count = Int(c * h * w)
        let features = Array(UnsafeBufferPointer(start: shim.features(result)!, count: count))
        var gradients: [[Float]] = []
        for t in 0..<targets.count {
            gradients.append(Array(UnsafeBufferPointer(start: shim.gradient(result, Int32(t))!, count: count)))
        }
        // NaN or infinity here would flow into probabilities, maps, the store and JSON (which
        // cannot even spell them): refuse them where they arise, naming what was not finite (features
        // first: non-finite features make every logit non-finite too).
        if let i = features.firstIndex(where: { !$0.isFinite }) {
            throw PleuraError(file: nil, "the model's features(x) hold \(features[i]) at value \(i) (not finite): the model is broken for this input; nothing was stored")
        }
        for (name, logits) in heads {
            if let i = logits.firstIndex(where: { !$0.isFinite }) {
                throw PleuraError(file: nil, "the model's output \"\(name)\" is \(logits[i]) (not a finite number) at class \(i): the model is broken for this input; nothing was stored")
            }
        }
        for (t, g) in gradients.enumerated() {
            if let i = g.firstIndex(where: { !$0.isFinite }) {
                throw PleuraError(file: nil, "the Grad-CAM gradient for \"\(targets[t].output)\" holds \(g[i]) at value \(i) (not finite): no heatmap; nothing was stored")
            }
        }
        return RawResult(heads: heads, featureShape: (Int(c), Int(h), Int(w)), features: features, gradients: gradients)
    }
}
