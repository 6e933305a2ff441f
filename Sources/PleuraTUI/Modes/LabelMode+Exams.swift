import Foundation
import PleuraCore

extension LabelMode {
    /// The exam overview of one exam: the current clip's, or the `examIndex`-th of the session's
    /// exams (sorted by pseudonym). Reads the store (zones, scores): call it when the screen
    /// opens or changes exam, not on every redraw. Nil without an `[exam]` table.
    public func examOverview(_ shell: Shell, examIndex: Int? = nil) throws -> ExamOverview? {
        guard let exams else { return nil }
        let proto = exams.settings.zoneProtocol
        let none = ExamKey(patient: "", study: nil)
        var examOf: [ExamKey] = []
        var zoneOf: [String?] = []
        for c in shell.clips {
            examOf.append(exams.exam(ofFile: c.url) ?? none)
            if let sha = c.sha256 { zoneOf.append(try exams.zone(ofMedia: sha)) }
            else { zoneOf.append(exams.settings.placement(fileName: c.url.lastPathComponent)?.zone) }
        }
        // By pseudonym; the clips no pattern placed last.
        let keys = Set(examOf).sorted { ($0.patient.isEmpty ? 1 : 0, $0) < ($1.patient.isEmpty ? 1 : 0, $1) }
        guard !keys.isEmpty else { return nil }
        let index = min(max(0, examIndex ?? keys.firstIndex(of: examOf[shell.clipIndex]) ?? 0), keys.count - 1)
        let exam = keys[index]
        let mine = shell.clips.indices.filter { examOf[$0] == exam }
        let hu = shell.session.schema.huFrameClasses
        // Per clip: severities (worst) or frame class scores.
        var worst: [Int: Double] = [:]
        var huScores: [Double] = []
        for i in mine {
            guard let sha = shell.clips[i].sha256 else { continue }
            if hu {
                let scores = try exams.frameClasses(ofMedia: sha).values.map(\.score)
                huScores += scores
                if let m = scores.max() { worst[i] = m }
            } else if let m = try exams.severities(ofMedia: sha).values.max() {
                worst[i] = Double(m)
            }
        }
        var cells: [ExamOverview.Cell] = []
        for z in proto.zones {
            let clips = mine.filter { zoneOf[$0] == z.name }
            let place = ExamOverview.place(z)
            let scores = clips.compactMap { worst[$0] }
            cells.append(ExamOverview.Cell(zone: z, column: place.column, row: place.row, clips: clips, score: scores.max(),
                                           labelledFrames: clips.map { labelledFrames(clip: $0).count }.reduce(0, +),
                                           sampledFrames: clips.filter { shell.clips[$0].isOpen }.map { shell.clips[$0].sampledFrames.count }.reduce(0, +),
                                           unopened: clips.filter { !shell.clips[$0].isOpen }.count))
        }
        let names = Set(proto.zones.map(\.name))
        let unzoned = mine.filter { zoneOf[$0].map { !names.contains($0) } ?? true }
        let scoreLine: String
        if hu {
            scoreLine = huScores.isEmpty ? "Hu mean – (no frame classes yet)"
                : String(format: "Hu mean %.2f", huScores.reduce(0, +) / Double(huScores.count)) + " (\(huScores.count) frames)"
        } else {
            let scored = cells.compactMap(\.score)
            scoreLine = scored.isEmpty ? "LUS score – (no zone scored yet)"
                : "LUS score \(Int(scored.reduce(0, +))) of \(3 * proto.zones.count) (\(scored.count) of \(proto.zones.count) zones scored)"
        }
        return ExamOverview(exams: keys, examIndex: index, cells: cells, unzoned: unzoned,
                            columns: (cells.map(\.column).max() ?? 0) + 1, rows: (cells.map(\.row).max() ?? 0) + 1,
                            scoreLine: scoreLine, columnTitles: ExamOverview.titles(proto))
    }
}
