import Foundation
import TOMLKit

/// What a rate session rates and asks: the `[rate]` table of a session file.
public struct RateSettings: Equatable, Sendable {
    public enum Unit: String, Sendable, CaseIterable { case frame, clip }

    /// Which class each rated map explains.
    public enum Target: Equatable, Sendable {
        /// The model's most probable class for the item.
        case predicted
        /// The class a given annotator's label names (Born et al. rated the maps of the true class).
        case reference(annotator: String)
        /// A fixed class name of the model's card.
        case className(String)

        public var description: String {
            switch self {
            case .predicted: return "predicted"
            case .reference(let a): return "reference:" + a
            case .className(let c): return c
            }
        }
    }

    /// The optional questions after the rating.
    public enum Question: String, Sendable, CaseIterable {
        case classGuess = "class_guess"
        case patternsVisible = "patterns_visible"
        case patternsHighlighted = "patterns_highlighted"
        case comment
    }

    public var unit: Unit = .frame
    /// `embedded` or absolute paths of TorchScript files.
    public var models: [String]
    public var methods: [HeatmapMethod]
    public var target: Target = .predicted
    /// The model head whose maps are rated (`rate.head`); nil: the card's default head.
    public var head: String?
    public var scale: RatingScale = .seven
    public var paired = false
    public var questions: [Question] = []
    /// A PleuraRender colormap name (``validColormaps``).
    public var colormap = "jet"
    public var opacityPercent = 50
    public var threshold: Double = 0

    /// PleuraRender's colormaps (a test keeps the two lists equal).
    public static let validColormaps = ["jet", "turbo", "inferno"]

    public init(unit: Unit = .frame, models: [String], methods: [HeatmapMethod], target: Target = .predicted,
                scale: RatingScale = .seven, paired: Bool = false, questions: [Question] = [],
                colormap: String = "jet", opacityPercent: Int = 50, threshold: Double = 0) {
        self.unit = unit; self.models = models; self.methods = methods; self.target = target
        self.scale = scale; self.paired = paired; self.questions = questions
        self.colormap = colormap; self.opacityPercent = opacityPercent; self.threshold = threshold
    }

    /// The (model, method) pairs every item is rated with, in session order.
    public var variants: [(model: String, method: HeatmapMethod)] {
        models.flatMap { m in methods.map { (m, $0) } }
    }

    static func parse(_ t: TOMLTable, defaultModel: Session.ModelChoice?, dir: URL, at: (String) -> String) throws -> RateSettings {
        func fail(_ key: String, _ reason: String) -> PleuraError { PleuraError(file: at("rate." + key), reason) }
        func strings(_ key: String) throws -> [String]? {
            guard let v = t[key] else { return nil }
            if let s = v.string { return [s] }
            guard let array = v.array else { throw fail(key, "rate.\(key) must be a list of names in quotes") }
            var out: [String] = []
            for e in array {
                guard let s = e.string, !s.isEmpty else { throw fail(key, "rate.\(key) must be a list of names in quotes") }
                out.append(s)
            }
            guard !out.isEmpty else { throw fail(key, "rate.\(key) is an empty list") }
            return out
        }
        var r = RateSettings(models: [defaultModel?.path ?? "embedded"], methods: [defaultModel?.heatmap ?? .gradcam])
        if let u = t["unit"] {
            guard let s = u.string, let unit = Unit(rawValue: s) else { throw fail("unit", "rate.unit must be \"frame\" or \"clip\"") }
            r.unit = unit
        }
        if let models = try strings("models") {
            r.models = models.map { $0 == "embedded" ? $0 : Session.resolve($0, against: dir).path }
        }
        if let methods = try strings("methods") {
            r.methods = try methods.map { name in
                guard let m = HeatmapMethod(name: name) else { throw fail("methods", "heatmap method '\(name)' must be one of " + HeatmapMethod.validNames) }
                return m
            }
        }
        if let v = t["target"] {
            guard let s = v.string, !s.isEmpty else { throw fail("target", "rate.target must be \"predicted\", \"reference:ANNOTATOR\" or a class name") }
            if s == "predicted" { r.target = .predicted }
            else if s.hasPrefix("reference:") {
                let who = String(s.dropFirst("reference:".count))
                guard !who.isEmpty else { throw fail("target", "rate.target reference: needs an annotator name, like reference:ground-truth") }
                r.target = .reference(annotator: who)
            } else { r.target = .className(s) }
        }
        if let v = t["head"] {
            guard let s = v.string, !s.isEmpty else { throw fail("head", "rate.head must be the name of a head of the model card in quotes, like \"severity\"") }
            r.head = s
        }
        if let v = t["scale"] {
            guard let s = v.string, let scale = RatingScale(rawValue: s) else { throw fail("scale", "rate.scale must be \"seven\" (-3 … 3) or \"born\" (six points, no 0)") }
            r.scale = scale
        }
        if let v = t["paired"] {
            guard let b = v.bool else { throw fail("paired", "rate.paired must be true or false") }
            r.paired = b
        }
        if r.paired && r.variants.count != 2 {
            throw fail("paired", "a paired study compares two maps: give two models or two methods (found \(r.variants.count) model × method pairs)")
        }
        if let qs = try strings("questions") {
            r.questions = try qs.map { q in
                guard let question = Question(rawValue: q) else {
                    throw fail("questions", "unknown question '\(q)' (questions: " + Question.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                }
                return question
            }
        }
        if let v = t["colormap"] {
            guard let s = v.string, validColormaps.contains(s) else { throw fail("colormap", "rate.colormap must be one of " + validColormaps.joined(separator: ", ")) }
            r.colormap = s
        }
        if let v = t["opacity"] {
            guard let n = v.int, (0...100).contains(n) else { throw fail("opacity", "rate.opacity must be a whole number of percent, 0 … 100") }
            r.opacityPercent = n
        }
        if let v = t["threshold"] {
            guard let x = v.double ?? v.int.map(Double.init), (0...1).contains(x) else { throw fail("threshold", "rate.threshold must be a number from 0 to 1") }
            r.threshold = x
        }
        return r
    }
}
