/// The words of a heatmap-rating study (Born et al. 2021, issue 10): the scale a panel answers
/// on, the patterns it ticks, the slots of a paired trial and the "which is better" answer. The
/// store, the exchange files, the rate screen and the report all use these, so a value written
/// by one is read the same way by every other.

/// The answer scale of a rating session.
///
/// ```swift
/// RatingScale.born.allows(HeatmapRating(rawValue: 0)!)   // false: Born's scale has no neutral point
/// RatingScale.seven.points.count                         // 7
/// ```
public enum RatingScale: String, CaseIterable, Codable, Sendable {
    /// −3 … 3 with a neutral 0 (the default).
    case seven
    /// Born et al.'s six points −3, −2, −1, 1, 2, 3: no neutral answer.
    case born

    /// The points in ascending order.
    public var points: [HeatmapRating] {
        (-3...3).compactMap { HeatmapRating(rawValue: $0) }.filter(allows)
    }

    public func allows(_ rating: HeatmapRating) -> Bool { self == .seven || rating.rawValue != 0 }
}

/// A pattern a rater can see in the frame or see highlighted by the map.
public enum RatingPattern: String, CaseIterable, Codable, Sendable, Comparable {
    case aLines = "a_lines"
    case bLines = "b_lines"
    case consolidation
    case pleuralLine = "pleural_line"
    case effusion
    case otherTissue = "other_tissue"

    public var displayName: String {
        switch self {
        case .aLines: return "A-lines"
        case .bLines: return "B-lines"
        case .consolidation: return "consolidation"
        case .pleuralLine: return "pleural line"
        case .effusion: return "effusion"
        case .otherTissue: return "other tissue"
        }
    }

    /// Declaration order (the order checklists show and files list them in).
    public static func < (a: RatingPattern, b: RatingPattern) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The canonical text of a set of patterns, as the store and the rating CSV hold it:
    /// names in declaration order joined by `;`, and `none` for an answered empty set (an empty
    /// cell means "not asked").
    ///
    /// ```swift
    /// RatingPattern.text(of: [.bLines, .aLines])   // "a_lines;b_lines"
    /// RatingPattern.text(of: [])                   // "none"
    /// ```
    public static func text(of set: Set<RatingPattern>) -> String {
        set.isEmpty ? "none" : set.sorted().map(\.rawValue).joined(separator: ";")
    }

    /// Parses ``text(of:)``; nil (with the bad word) when a name is unknown.
    public static func parse(_ text: String) -> Result<Set<RatingPattern>, PatternError> {
        if text == "none" { return .success([]) }
        var out = Set<RatingPattern>()
        for word in text.split(separator: ";", omittingEmptySubsequences: false) {
            guard let p = RatingPattern(rawValue: String(word)) else { return .failure(PatternError(word: String(word))) }
            out.insert(p)
        }
        return .success(out)
    }

    public struct PatternError: Error, Sendable {
        public var word: String
        public var message: String {
            "pattern '\(word)' is not one of \(RatingPattern.allCases.map(\.rawValue).joined(separator: ", ")) (or 'none'), separated by ';'"
        }
    }
}

/// Where a map of a paired trial was shown. Slots are drawn per rater, so the same map can be A
/// for one rater and B for another; every rating records its slot.
public enum TrialSlot: String, CaseIterable, Codable, Sendable, Comparable {
    case a = "A"
    case b = "B"
    public static func < (x: TrialSlot, y: TrialSlot) -> Bool { x.rawValue < y.rawValue }
}

/// The answer to "which of the two maps is better" in a paired trial: a slot (which the rating
/// of that trial maps to exactly one heatmap) or `equal`.
public enum PairPreference: String, CaseIterable, Codable, Sendable {
    case a = "A"
    case b = "B"
    case equal

    public init(slot: TrialSlot) { self = slot == .a ? .a : .b }
    /// The preferred slot (nil for `equal`).
    public var slot: TrialSlot? { self == .a ? .a : self == .b ? .b : nil }
}

/// How a map was drawn over the frame when it was rated.
///
/// ```swift
/// OverlaySettings(colormap: "jet", opacity: 0.5, threshold: nil)      // pytorch-grad-cam's look
/// OverlaySettings(colormap: "jet", opacity: 0.3, threshold: 0.4)      // POCOVID-Net's preset
/// ```
public struct OverlaySettings: Hashable, Codable, Sendable {
    /// A colormap name (`jet`, `turbo`, `inferno`).
    public var colormap: String
    /// The heatmap's weight in the blend, 0…1.
    public var opacity: Double
    /// Map values below this (0…1) were not drawn; nil: no threshold.
    public var threshold: Double?

    public init(colormap: String, opacity: Double, threshold: Double?) {
        self.colormap = colormap; self.opacity = opacity; self.threshold = threshold
    }

    /// Shortest decimal text of a setting (`0.5`, `0.4`), as the store and files hold it.
    public static func text(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
