/// One row of the canonical rating CSV (design.md):
/// `media,frame,annotator,model,method,target,rating,comment`.
///
/// `media` is a path relative to the import/export root; `frame` 0-based or empty for a whole
/// video; `model` the model's SHA-256 (as the store records it); `method` the explanation method
/// (e.g. `gradcam`); `target` the class the map explains; `rating` −3…3 (empty: withdrawn, kept
/// only when a comment remains); `comment` free text.
///
/// ```swift
/// let rows = try RatingRecord.parseFile(text, file: "ratings.csv")
/// let text = RatingRecord.formatFile(rows)   // byte-identical to a canonical input
/// ```
public struct RatingRecord: CanonicalCSVRecord, Equatable, Sendable {
    public static let header = ["media", "frame", "annotator", "model", "method", "target", "rating", "comment"]

    public var media: String
    public var frame: Int?
    public var annotator: String
    public var model: String
    public var method: String
    public var target: String
    public var rating: HeatmapRating?
    public var comment: String?

    public init(media: String, frame: Int?, annotator: String, model: String, method: String, target: String,
                rating: HeatmapRating?, comment: String?) {
        self.media = media; self.frame = frame; self.annotator = annotator; self.model = model
        self.method = method; self.target = target; self.rating = rating; self.comment = comment
    }

    /// The CSV fields, in header order.
    public var fields: [String] {
        [media, frame.map(String.init) ?? "", annotator, model, method, target,
         rating.map { String($0.rawValue) } ?? "", comment ?? ""]
    }

    /// Parses one data row; `file` and `line` name the place in errors.
    public init(fields: [String], file: String, line: Int) throws {
        func fail(_ what: String) -> PleuraError { PleuraError(file: file, "line \(line): \(what)") }
        guard fields.count == RatingRecord.header.count else {
            throw fail("expected \(RatingRecord.header.count) fields (\(RatingRecord.header.joined(separator: ","))), found \(fields.count)")
        }
        for (i, name) in [(0, "media"), (2, "annotator"), (3, "model"), (4, "method"), (5, "target")] where fields[i].isEmpty {
            throw fail("\(name) is empty")
        }
        var frame: Int? = nil
        if !fields[1].isEmpty {
            guard let f = Int(fields[1]), f >= 0 else { throw fail("frame '\(fields[1])' is not a frame index (0, 1, 2, … or empty for the whole video)") }
            frame = f
        }
        var rating: HeatmapRating? = nil
        if !fields[6].isEmpty {
            guard let n = Int(fields[6]), let r = HeatmapRating(rawValue: n) else {
                throw fail("rating '\(fields[6])' must be an integer from -3 to 3")
            }
            rating = r
        }
        let comment = fields[7].isEmpty ? nil : fields[7]
        if rating == nil && comment == nil { throw fail("rating and comment are both empty: nothing to record") }
        self.init(media: fields[0], frame: frame, annotator: fields[2], model: fields[3], method: fields[4],
                  target: fields[5], rating: rating, comment: comment)
    }
}
