import Foundation
import PleuraCore

/// What the labelling screen needs from the store about exams and zones. The production
/// implementation is ``StoreExamBackend``; it writes through the same store session as the
/// labels, so a zone key or a frame class is undone by the same undo key.
public protocol ExamBackend: AnyObject {
    /// The session's `[exam]` settings (protocol, file-name pattern).
    var settings: ExamSettings { get }
    /// The exam a file name places a clip in (pseudonymised), nil when the pattern does not match.
    func exam(ofFile url: URL) -> ExamKey?
    /// Records what the pattern says about an opened clip (exam, zone) in the store.
    func place(file url: URL, media sha256: String) throws
    /// The clip's zone now: a zone key's (newest) over the pattern's; nil when it has none.
    func zone(ofMedia sha256: String) throws -> String?
    /// Sets the zone by key (nil clears it): one committed event, undoable.
    func setZone(_ zone: String?, ofMedia sha256: String) throws
    /// This annotator's Hu classes of a clip's frames.
    func frameClasses(ofMedia sha256: String) throws -> [Int: HuFrameClass]
    func setFrameClass(_ value: HuFrameClass?, item: ItemRef) throws
    /// This annotator's severities of a clip by frame (-1: the whole clip).
    func severities(ofMedia sha256: String) throws -> [Int: Int]
}

/// The exam overview screen's content for one exam: its zones in the protocol's grid, each with
/// its clips, score and labelled state. Built on demand from the mode and the store (never
/// inside a redraw).
public struct ExamOverview: Equatable {
    public struct Cell: Equatable {
        public var zone: LungZone
        public var column: Int
        public var row: Int
        /// Clip indexes of the session taken at this zone.
        public var clips: [Int]
        /// The zone score: worst severity (ICLUS) or worst frame class score (hu6); nil: none yet.
        public var score: Double?
        public var labelledFrames: Int
        public var sampledFrames: Int
        /// Clips of this zone not opened yet (their frames are not counted).
        public var unopened: Int
    }
    /// Every exam of the session (sorted; patient "" = clips no pattern placed).
    public var exams: [ExamKey]
    public var examIndex: Int
    public var cells: [Cell]
    /// Clips of this exam without a zone of the protocol.
    public var unzoned: [Int]
    public var columns: Int
    public var rows: Int
    /// The patient score line ("LUS score 7 (12 of 14 zones)", "Hu mean 1.83 (40 frames)").
    public var scoreLine: String

    /// Column headers, left to right (the patient's right side first, as seen facing them).
    public var columnTitles: [String]

    static func place(_ z: LungZone) -> (column: Int, row: Int) { z.gridPlace }

    static func titles(_ p: LungZoneProtocol) -> [String] {
        if p.zones.allSatisfy({ $0.region != nil }) {
            return ["R posterior", "R lateral", "R anterior", "L anterior", "L lateral", "L posterior"]
        }
        return ["right", "left", "other"]
    }

    /// The cell the cursor moves to from `index` in a direction (nearest in that direction).
    public func move(from index: Int, dx: Int, dy: Int) -> Int {
        guard cells.indices.contains(index) else { return 0 }
        let c = cells[index]
        let candidates = cells.indices.filter { i in
            let d = cells[i]
            return dx != 0 ? (d.column - c.column) * dx > 0 : (d.row - c.row) * dy > 0
        }
        return candidates.min { a, b in
            func cost(_ i: Int) -> Int {
                let d = cells[i]
                return dx != 0 ? abs(d.column - c.column) * 10 + abs(d.row - c.row) : abs(d.row - c.row) * 10 + abs(d.column - c.column)
            }
            return cost(a) < cost(b)
        } ?? index
    }
}
