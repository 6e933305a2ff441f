import Foundation
import PleuraCore

/// The JSON card beside a TorchScript model (`NAME.pt` + `NAME.json`): how to feed the model, what
/// its heads mean, where its data came from and how well it did. Only the fields Pleura needs to run
/// the model are required; everything else (metrics, data sources) is kept as raw JSON for display.
///
/// ```json
/// {"name": "pleura-lus-v1",
///  "input": {"width": 224, "height": 224, "channels": 1, "resize": "area", "scale": 0.00392156862745098,
///            "mean": [0.5], "std": [0.25]},
///  "gradcam_layer": "body.6",
///  "heads": [{"name": "diagnosis", "kind": "multiclass", "activation": "softmax",
///             "classes": ["covid", "pneumonia", "healthy"]}]}
/// ```
public struct ModelCard: Sendable, Equatable {
    /// How a frame becomes the model's input tensor.
    public struct Input: Sendable, Equatable, Codable {
        public var width: Int
        public var height: Int
        /// 1 (grey, BT.601 luma of the RGB frame) or 3 (RGB).
        public var channels: Int
        /// `area` (area averaging, as torch's adaptive_avg_pool2d; the default) or `bilinear`
        /// (half-pixel centres, no antialiasing, as OpenCV's resize). The whole frame is resized; no crop.
        public var resize: String?
        /// Pixel values (0–255) are multiplied by this first; default 1/255.
        public var scale: Double?
        public var mean: [Double]
        public var std: [Double]
        /// `sector`: only the clip's scan sector (``ScanSector``): grey 0 outside it, the square around
        /// it resized to the input size. Absent or `frame`: the whole frame.
        public var crop: String?
        /// `sector`: per-frame normalisation inside the sector, `(v - mean) / max(std, 1)` over the
        /// sector's pixels (v on the 0–255 scale), 0 outside; replaces mean/std. Absent: mean/std.
        public var normalise: String?
        public var cropsToSector: Bool { crop == "sector" }
    }

    /// One output of `head(A)`.
    public struct Head: Sendable, Equatable, Codable {
        enum CodingKeys: String, CodingKey { case name, kind, activation, classes, uncertaintyOutput = "uncertainty_output", labels = "pleura_labels" }
        public var name: String
        /// `multiclass` (one class; softmax) or `multilabel` (independent flags; sigmoid).
        public var kind: String
        /// `softmax` or `sigmoid`; defaults from ``kind``.
        public var activation: String?
        public var classes: [String]
        /// Output of `head(A)` holding MC-dropout samples of this head's logits, `[1, samples × classes]`
        /// (sample-major); Pleura reports the standard deviation of each class's probability over them.
        public var uncertaintyOutput: String?
        /// Which Pleura label the head predicts (`pleura_labels`), e.g. the severity head's
        /// `{"field": "severity", "map": {"0": 0, …}}`: class name → the label's value.
        public var labels: Labels?
        public var isMultilabel: Bool { (activation ?? (kind == "multilabel" ? "sigmoid" : "softmax")) == "sigmoid" }
    }

    /// A head's `pleura_labels`: the Pleura label field it predicts and each class's value there.
    public struct Labels: Sendable, Equatable, Codable {
        public var field: String
        public var map: [String: JSONValue]

        /// The head's class for a label value given as Pleura's canonical text (severity "2" →
        /// class "2"; a diagnosis "COVID-19" → "covid"), or nil when no class maps to it.
        public func className(forLabel text: String) -> String? {
            map.first { _, v in
                switch v {
                case .number(let n): return n == n.rounded() ? String(Int(n)) == text : String(n) == text
                case .string(let s): return s == text
                default: return false
                }
            }?.key
        }
    }

    public var name: String
    public var input: Input
    /// The layer whose activations `features(x)` returns (for the record beside every heatmap).
    public var gradCAMLayer: String
    public var heads: [Head]
    /// The head shown first (default: the first head).
    public var defaultHead: String
    /// The whole card as parsed JSON, for screens that show metrics and licences.
    public var json: [String: JSONValue]

    public func head(named name: String) -> Head? { heads.first { $0.name == name } }

    /// Reads and checks a card; every problem is one ``PleuraError`` naming the card file.
    public static func read(url: URL) throws -> ModelCard {
        let path = url.path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PleuraError(file: path, "model card missing: every model needs NAME.json beside NAME.pt "
                              + "(input size, channels, normalisation, heads); Scripts/export_model.py writes one")
        }
        return try parse(data, file: path)
    }

    public static func parse(_ data: Data, file: String) throws -> ModelCard {
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: data) } catch {
            throw PleuraError(file: file, "model card is not valid JSON (\(error.localizedDescription))")
        }
        guard let object = any as? [String: Any] else { throw PleuraError(file: file, "model card is not a JSON object") }
        let decoder = JSONDecoder()
        func field<T: Decodable>(_ key: String, _ type: T.Type) throws -> T {
            guard let value = object[key] else { throw PleuraError(file: file, "model card lacks \"\(key)\"") }
            do {
                return try decoder.decode(T.self, from: JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]))
            } catch let error as DecodingError {
                throw PleuraError(file: file, "model card field \"\(key)\" is malformed: \(describe(error))")
            }
        }
        let input = try field("input", Input.self)
        let heads = try field("heads", [Head].self)
        let card = ModelCard(
            name: (object["name"] as? String) ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent,
            input: input,
            gradCAMLayer: (object["gradcam_layer"] as? String) ?? "features",
            heads: heads,
            defaultHead: (object["default_head"] as? String) ?? heads.first?.name ?? "",
            json: (try? decoder.decode([String: JSONValue].self, from: data)) ?? [:])
        try card.validate(file: file)
        return card
    }

    /// Checks the card on its own (the outputs are checked against it when the model is loaded).
    func validate(file: String) throws {
        guard (1...4096).contains(input.width), (1...4096).contains(input.height) else {
            throw PleuraError(file: file, "model card input size \(input.width)x\(input.height) is not usable")
        }
        guard input.channels == 1 || input.channels == 3 else {
            throw PleuraError(file: file, "model card input channels must be 1 (grey) or 3 (RGB), not \(input.channels)")
        }
        guard input.mean.count == input.channels, input.std.count == input.channels, input.std.allSatisfy({ $0 != 0 }) else {
            throw PleuraError(file: file, "model card mean/std need one non-zero value per channel (\(input.channels))")
        }
        if let r = input.resize, r != "area", r != "bilinear" {
            throw PleuraError(file: file, "model card input resize \"\(r)\" is unknown (use \"area\" or \"bilinear\")")
        }
        if let c = input.crop, c != "sector", c != "frame" {
            throw PleuraError(file: file, "model card input crop \"\(c)\" is unknown (use \"sector\" or \"frame\")")
        }
        if let n = input.normalise, n != "sector" {
            throw PleuraError(file: file, "model card input normalise \"\(n)\" is unknown (use \"sector\" or leave it out)")
        }
        guard !heads.isEmpty else { throw PleuraError(file: file, "model card lists no heads") }
        for h in heads {
            guard !h.classes.isEmpty else { throw PleuraError(file: file, "model card head \"\(h.name)\" has no classes") }
            guard ["multiclass", "multilabel"].contains(h.kind) else {
                throw PleuraError(file: file, "model card head \"\(h.name)\" kind \"\(h.kind)\" is not multiclass or multilabel")
            }
            if let a = h.activation, a != "softmax", a != "sigmoid" {
                throw PleuraError(file: file, "model card head \"\(h.name)\" activation \"\(a)\" is not softmax or sigmoid")
            }
            guard Set(h.classes).count == h.classes.count else {
                throw PleuraError(file: file, "model card head \"\(h.name)\" repeats a class name")
            }
        }
        guard Set(heads.map(\.name)).count == heads.count else { throw PleuraError(file: file, "model card repeats a head name") }
        guard head(named: defaultHead) != nil else {
            throw PleuraError(file: file, "model card default_head \"\(defaultHead)\" is not one of its heads")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let ctx): return "missing \"\(key.stringValue)\"" + path(ctx)
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
            return ctx.debugDescription + path(ctx)
        @unknown default: return "\(error)"
        }
    }

    private static func path(_ ctx: DecodingError.Context) -> String {
        ctx.codingPath.isEmpty ? "" : " at " + ctx.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}

/// Any JSON value, for the parts of a card Pleura shows but does not interpret.
public enum JSONValue: Sendable, Equatable, Codable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public subscript(key: String) -> JSONValue? { if case .object(let o) = self { return o[key] }; return nil }
    public var number: Double? { if case .number(let n) = self { return n }; return nil }
    public var string: String? { if case .string(let s) = self { return s }; return nil }
}
