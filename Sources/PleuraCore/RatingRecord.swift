/// One row of the canonical rating CSV (design.md): one map rated by one rater, with the map's
/// full provenance and every answer:
///
/// `media,frame,annotator,model,method,target,rating,comment,layer,heatmap_sha256,trial,slot,`
/// `scale,colormap,opacity,threshold,class_guess,visible,highlighted,better,seconds`
///
/// `media` is a path relative to the import/export root; `frame` 0-based or empty for a whole
/// video; `model` the model's SHA-256; `method` the explanation method (e.g. `gradcam`);
/// `target` the class the map explains (`head/class`); `rating` on the row's `scale` (`seven`:
/// −3…3, `born`: no 0; empty: not rated); `layer` and `heatmap_sha256` the map's layer and hash;
/// `trial` the rate session's trial identity, `slot` `A`/`B` in a paired trial (empty
/// otherwise); `colormap`, `opacity` (0…1), `threshold` (0…1, empty: none) how the map was drawn
/// (all empty: not recorded); `class_guess` the rater's class; `visible` / `highlighted` pattern
/// sets (``RatingPattern/text(of:)``: `a_lines;b_lines`, `none`; empty: not asked); `better` in a
/// paired trial `A`, `B` (a slot of the same trial) or `equal`; `seconds` spent on the trial.
///
/// The first eight columns are the older rating CSV, which import still accepts (the other
/// columns then read as empty).
///
/// ```swift
/// let rows = try RatingRecord.parseFile(text, file: "ratings.csv")
/// let text = RatingRecord.formatFile(rows)   // byte-identical to a canonical input
/// ```
public struct RatingRecord: CanonicalCSVRecord, Equatable, Sendable {
    public static let header = ["media", "frame", "annotator", "model", "method", "target", "rating", "comment",
                                "layer", "heatmap_sha256", "trial", "slot", "scale", "colormap", "opacity", "threshold",
                                "class_guess", "visible", "highlighted", "better", "seconds"]
    /// The eight-column rating CSV of earlier Pleura versions.
    public static let olderHeaders = [Array(header.prefix(8))]

    public var media: String
    public var frame: Int?
    public var annotator: String
    public var model: String
    public var method: String
    public var target: String
    public var rating: HeatmapRating?
    public var comment: String?
    public var layer: String = ""
    public var heatmapSHA256: String = ""
    public var trial: String = ""
    public var slot: TrialSlot? = nil
    public var scale: RatingScale = .seven
    public var overlay: OverlaySettings? = nil
    public var classGuess: String? = nil
    public var visible: Set<RatingPattern>? = nil
    public var highlighted: Set<RatingPattern>? = nil
    public var better: PairPreference? = nil
    public var seconds: Double? = nil

    public init(media: String, frame: Int?, annotator: String, model: String, method: String, target: String,
                rating: HeatmapRating?, comment: String?) {
        self.media = media; self.frame = frame; self.annotator = annotator; self.model = model
        self.method = method; self.target = target; self.rating = rating; self.comment = comment
    }

    /// The CSV fields, in header order.
    public var fields: [String] {
        [media, frame.map(String.init) ?? "", annotator, model, method, target,
         rating.map { String($0.rawValue) } ?? "", comment ?? "", layer, heatmapSHA256, trial, slot?.rawValue ?? "",
         scale.rawValue, overlay?.colormap ?? "", overlay.map { OverlaySettings.text($0.opacity) } ?? "",
         overlay?.threshold.map(OverlaySettings.text) ?? "", classGuess ?? "",
         visible.map(RatingPattern.text(of:)) ?? "", highlighted.map(RatingPattern.text(of:)) ?? "",
         better?.rawValue ?? "", seconds.map(OverlaySettings.text) ?? ""]
    }

    /// Parses one data row; `file` and `line` name the place in errors.
    public init(fields: [String], file: String, line: Int) throws {
        func fail(_ what: String) -> PleuraError { PleuraError(file: file, "line \(line): \(what)") }
        guard fields.count == RatingRecord.header.count else {
            throw fail("expected \(RatingRecord.header.count) fields (\(RatingRecord.header.joined(separator: ","))), found \(fields.count)")
        }
        var f = [String: String]()
        for (name, value) in zip(RatingRecord.header, fields) { f[name] = value }
        for name in ["media", "annotator", "model", "method", "target"] where f[name]!.isEmpty {
            throw fail("\(name) is empty")
        }
        var frame: Int? = nil
        if let text = f["frame"], !text.isEmpty {
            guard let n = Int(text), n >= 0 else { throw fail("frame '\(text)' is not a frame index (0, 1, 2, … or empty for the whole video)") }
            frame = n
        }
        var scale = RatingScale.seven
        if let text = f["scale"], !text.isEmpty {
            guard let s = RatingScale(rawValue: text) else { throw fail("scale '\(text)' must be seven or born") }
            scale = s
        }
        var rating: HeatmapRating? = nil
        if let text = f["rating"], !text.isEmpty {
            guard let n = Int(text), let r = HeatmapRating(rawValue: n) else {
                throw fail("rating '\(text)' must be an integer from -3 to 3")
            }
            guard scale.allows(r) else { throw fail("rating 0 is not on the born scale (−3, −2, −1, 1, 2, 3)") }
            rating = r
        }
        func number(_ name: String, in range: ClosedRange<Double>) throws -> Double? {
            guard let text = f[name], !text.isEmpty else { return nil }
            guard let d = Double(text), d.isFinite, range.contains(d) else {
                throw fail("\(name) '\(text)' must be a number from \(OverlaySettings.text(range.lowerBound)) to \(range.upperBound == .greatestFiniteMagnitude ? "any" : OverlaySettings.text(range.upperBound))")
            }
            return d
        }
        func patterns(_ name: String) throws -> Set<RatingPattern>? {
            guard let text = f[name], !text.isEmpty else { return nil }
            switch RatingPattern.parse(text) {
            case .success(let set): return set
            case .failure(let e): throw fail("\(name): \(e.message)")
            }
        }
        let opacity = try number("opacity", in: 0...1), threshold = try number("threshold", in: 0...1)
        let colormap = f["colormap"]!
        if colormap.isEmpty && (opacity != nil || threshold != nil) { throw fail("opacity and threshold need a colormap") }
        if !colormap.isEmpty && opacity == nil { throw fail("a colormap needs its opacity") }
        var slot: TrialSlot? = nil
        if let text = f["slot"], !text.isEmpty {
            guard let s = TrialSlot(rawValue: text) else { throw fail("slot '\(text)' must be A, B or empty") }
            slot = s
        }
        var better: PairPreference? = nil
        if let text = f["better"], !text.isEmpty {
            guard let b = PairPreference(rawValue: text) else { throw fail("better '\(text)' must be A, B or equal") }
            guard slot != nil else { throw fail("better needs a paired trial (a slot A or B)") }
            better = b
        }
        self.init(media: f["media"]!, frame: frame, annotator: f["annotator"]!, model: f["model"]!, method: f["method"]!,
                  target: f["target"]!, rating: rating, comment: f["comment"]!.isEmpty ? nil : f["comment"]!)
        layer = f["layer"]!; heatmapSHA256 = f["heatmap_sha256"]!; trial = f["trial"]!
        self.slot = slot; self.scale = scale; self.better = better
        overlay = colormap.isEmpty ? nil : OverlaySettings(colormap: colormap, opacity: opacity!, threshold: threshold)
        classGuess = f["class_guess"]!.isEmpty ? nil : f["class_guess"]!
        visible = try patterns("visible"); highlighted = try patterns("highlighted")
        seconds = try number("seconds", in: 0...Double.greatestFiniteMagnitude)
        if rating == nil && comment == nil && classGuess == nil && visible == nil && highlighted == nil && better == nil {
            throw fail("no answer on this row (rating, comment, class_guess, visible, highlighted and better are all empty): nothing to record")
        }
    }
}
