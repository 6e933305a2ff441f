/// One lung zone of a scanning protocol, with where the exam overview grid draws it.
public struct LungZone: Equatable, Hashable, Sendable {
    public enum Side: String, Sendable { case right = "R", left = "L" }
    public enum Region: String, Sendable, CaseIterable { case posterior, lateral, anterior }

    /// The zone's name as sessions, file names and exports spell it (`R1`, `L-PLAPS`).
    public var name: String
    /// What the zone is, in words (`right posterior basal`).
    public var meaning: String
    public var side: Side?
    public var region: Region?
    /// 0 = top row of the grid (upper), 2 = bottom (basal / lower).
    public var level: Int

    public init(_ name: String, _ meaning: String, _ side: Side?, _ region: Region?, level: Int) {
        self.name = name; self.meaning = meaning; self.side = side; self.region = region; self.level = level
    }
}

extension LungZone {
    /// Where the exam overview grid draws the zone, as seen facing the patient: their right side
    /// on the left, columns posterior, lateral, anterior | anterior, lateral, posterior; rows upper
    /// (0) to basal (2). Zones without a region (custom protocols) go by side: right, left, other.
    public var gridPlace: (column: Int, row: Int) {
        if let region, let side {
            let i = [Region.posterior, .lateral, .anterior].firstIndex(of: region)!
            return (side == .right ? i : 5 - i, level)
        }
        return (side == .left ? 1 : side == .right ? 0 : 2, level)
    }
}

/// A scanning protocol: the zones a patient's exam is made of (`exam.protocol` of a session).
///
/// - `iclus14` / `soldati14`: Soldati et al. 2020 (J Ultrasound Med 39:1413), as ICLUS (Roy et al.
///   2020) uses it: 14 areas, per side 3 posterior (basal, middle, upper), 2 lateral (basal, upper)
///   and 2 anterior (lower, upper), numbered in that scanning order: `R1`…`R7`, `L1`…`L7`.
/// - `12zone`: per side anterior, lateral and posterior, each upper and lower (Volpicelli et al.
///   2012's 12-zone exam): `R1` anterior upper, `R2` anterior lower, `R3` lateral upper, `R4`
///   lateral lower, `R5` posterior upper, `R6` posterior lower; `L1`…`L6` alike.
/// - `blue`: Lichtenstein's BLUE points, per side the upper and lower BLUE point and the PLAPS
///   point: `R-upper`, `R-lower`, `R-PLAPS`, `L-upper`, `L-lower`, `L-PLAPS`.
/// - custom: a list of names; a name starting `R`/`L` goes to that side of the grid.
public struct LungZoneProtocol: Equatable, Sendable {
    public var name: String
    public var zones: [LungZone]

    public init(name: String, zones: [LungZone]) { self.name = name; self.zones = zones }

    public static let builtInNames = ["iclus14", "soldati14", "12zone", "blue"]

    /// A built-in protocol by name, or nil.
    public static func named(_ name: String) -> LungZoneProtocol? {
        switch name {
        case "iclus14", "soldati14": return LungZoneProtocol(name: name, zones: fourteen)
        case "12zone": return LungZoneProtocol(name: name, zones: twelve)
        case "blue": return LungZoneProtocol(name: name, zones: blue)
        default: return nil
        }
    }

    /// A session's own list of zone names.
    public static func custom(_ names: [String]) -> LungZoneProtocol {
        var rows: [LungZone.Side: Int] = [:]
        let zones = names.map { n -> LungZone in
            let side: LungZone.Side? = n.hasPrefix("R") ? .right : n.hasPrefix("L") ? .left : nil
            let level = rows[side ?? .right, default: 0]
            rows[side ?? .right] = level + 1
            return LungZone(n, n, side, nil, level: level)
        }
        return LungZoneProtocol(name: "custom", zones: zones)
    }

    public func zone(named name: String) -> LungZone? { zones.first { $0.name == name } }

    /// The zone a file name's text means: exact, else ignoring case and `-`/`_` (`r1`, `R_PLAPS`).
    public func zone(matching text: String) -> LungZone? {
        func norm(_ s: String) -> String { s.uppercased().filter { $0 != "-" && $0 != "_" } }
        return zone(named: text) ?? zones.first { norm($0.name) == norm(text) }
    }

    static func side(_ s: LungZone.Side, _ zones: [(String, String, LungZone.Region, Int)]) -> [LungZone] {
        let word = s == .right ? "right" : "left"
        return zones.map { LungZone(s.rawValue + $0.0, "\(word) \($0.1)", s, $0.2, level: $0.3) }
    }

    static let fourteenSide: [(String, String, LungZone.Region, Int)] = [
        ("1", "posterior basal", .posterior, 2), ("2", "posterior middle", .posterior, 1), ("3", "posterior upper", .posterior, 0),
        ("4", "lateral basal", .lateral, 2), ("5", "lateral upper", .lateral, 0),
        ("6", "anterior lower", .anterior, 2), ("7", "anterior upper", .anterior, 0),
    ]
    static let fourteen = side(.right, fourteenSide) + side(.left, fourteenSide)

    static let twelveSide: [(String, String, LungZone.Region, Int)] = [
        ("1", "anterior upper", .anterior, 0), ("2", "anterior lower", .anterior, 2),
        ("3", "lateral upper", .lateral, 0), ("4", "lateral lower", .lateral, 2),
        ("5", "posterior upper", .posterior, 0), ("6", "posterior lower", .posterior, 2),
    ]
    static let twelve = side(.right, twelveSide) + side(.left, twelveSide)

    static let blueSide: [(String, String, LungZone.Region, Int)] = [
        ("-upper", "upper BLUE point", .anterior, 0), ("-lower", "lower BLUE point", .anterior, 2),
        ("-PLAPS", "PLAPS point", .posterior, 2),
    ]
    static let blue = side(.right, blueSide) + side(.left, blueSide)
}

/// Hu et al.'s six frame classes (`schema.frame_classes = "hu6"`), each with its score; a
/// patient's score is the mean over their frames.
public enum HuFrameClass: String, CaseIterable, Sendable, Comparable {
    case aLine = "a_line"
    case aAndBLine = "a_b_line"
    case b1Line = "b1_line"
    case b1AndB2Line = "b1_b2_line"
    case b2Line = "b2_line"
    case consolidation = "consolidation"

    public var score: Double {
        switch self {
        case .aLine: return 0
        case .aAndBLine: return 1
        case .b1Line: return 2
        case .b1AndB2Line: return 2.5
        case .b2Line: return 3
        case .consolidation: return 4
        }
    }

    public var displayName: String {
        switch self {
        case .aLine: return "A-line"
        case .aAndBLine: return "A&B-line"
        case .b1Line: return "B1-line"
        case .b1AndB2Line: return "B1&B2-line"
        case .b2Line: return "B2-line"
        case .consolidation: return "consolidation"
        }
    }

    /// 1-based position (the key `frame_class_N` sets it).
    public var number: Int { HuFrameClass.allCases.firstIndex(of: self)! + 1 }

    public static func < (a: HuFrameClass, b: HuFrameClass) -> Bool { a.score < b.score }
}

/// Scores as screens and exports write them: whole numbers without a point (`2`), else as few
/// digits as give the value back (`2.5`, `1.8333333333333333`).
public enum ExamNumber {
    public static func text(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)"
    }
}
