import ArgumentParser
import Foundation
import PleuraCore
import PleuraStore

/// `pleura exams [SESSION] [--store DB] [--patients F] [--zones F] [--items F] [--json]`.
struct ExamsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exams",
        abstract: "Exams, lung zones and patient scores (14-zone LUS sum, Hu mean), with pseudonyms only.",
        discussion: """
            With a session, its exam.pattern is first applied to its media files that are registered \
            in the store (as opening the session does). Prints one line per exam and rater: the \
            LUS score (sum over zones of each zone's worst severity; zones without a score add \
            nothing and are counted apart) and Hu et al.'s mean frame score. --patients, --zones and \
            --items write CSV files (pseudonyms and media hashes, never paths or identifiers). The \
            labelling screen's exam key shows one exam as a grid.
            """)

    @Argument(help: "Session file whose [exam] settings and store to use.")
    var session: String?

    @Option(help: "Store database (default: the session's).")
    var store: String?

    @Option(help: "Write the patient scores CSV here (patient, study, rater, lus_score, zones_scored, zones_total, hu_mean, hu_frames).")
    var patients: String?

    @Option(help: "Write the zone scores CSV here (patient, study, zone, rater, worst_severity, hu_worst, hu_mean, hu_frames).")
    var zones: String?

    @Option(help: "Write every scored item here (patient, study, zone, media_sha256, frame, rater, severity, frame_class, frame_score).")
    var items: String?

    @Flag(help: "Print patient-level agreement as JSON (as in pleura stats --json, key patient_agreement).")
    var json = false

    func run() throws {
        var storePath = store
        var loaded: Session? = nil
        if let session {
            let url = URL(fileURLWithPath: session).standardizedFileURL
            guard FileManager.default.fileExists(atPath: url.path) else { throw PleuraError(file: session, "no such session file") }
            let s = try Session.load(url)
            loaded = s
            storePath = storePath ?? s.store.path
        }
        guard let storePath else { throw PleuraError(file: "pleura exams", "name a session or a --store") }
        let db = try openExistingStore(storePath, next: "`pleura add` makes one")
        if let s = loaded, let exam = s.exam {
            var placed = 0, unregistered = 0
            for url in try TUILauncher.mediaFiles(s) {
                guard let m = try db.media(atPath: url.path) else { unregistered += 1; continue }
                guard let p = exam.placement(fileName: url.lastPathComponent) else { continue }
                if try db.assignExam(media: m.sha256, patientKey: p.patientKey, studyKey: p.studyKey, zone: p.zone,
                                     protocol: exam.zoneProtocol.name) { placed += 1 }
            }
            if placed > 0 || unregistered > 0 {
                FileHandle.standardError.write(Data("pleura: \(placed) clips placed by exam.pattern\(unregistered > 0 ? ", \(unregistered) not registered yet (pleura add them)" : "")\n".utf8))
            }
        }
        let report = try db.examReport()
        for (path, text) in [(patients, report.patientsCSV), (zones, report.zonesCSV), (items, report.itemsCSV)] {
            guard let path else { continue }
            do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw PleuraError(file: path, "cannot write (\((error as NSError).localizedDescription))")
            }
        }
        if json { print(report.agreementJSON); return }
        print(Self.text(report))
    }

    static func text(_ r: ExamReport) -> String {
        let exams = Set(r.membership.compactMap(\.exam))
        var out = ["\(exams.count) exam\(exams.count == 1 ? "" : "s"), \(r.membership.filter { $0.zone != nil }.count) clips with a zone"]
        if !r.patients.isEmpty {
            out.append("")
            out.append(StatsCommand.table(["exam", "rater", "LUS score", "zones", "Hu mean", "frames"], r.patients.map { p in
                [p.exam.shortName, p.rater, p.lusScore.map(String.init) ?? "—",
                 "\(p.zonesScored)" + (p.zonesTotal.map { "/\($0)" } ?? ""), p.huMean.map { String(format: "%.3f", $0) } ?? "—", String(p.huFrames)]
            }))
        }
        let agreement = patientAgreementTables(r)
        if !agreement.isEmpty { out.append(""); out.append(agreement) }
        return out.joined(separator: "\n").split(separator: "\n", omittingEmptySubsequences: false)
            .map { SafeText.sanitize(String($0)) }.joined(separator: "\n")
    }

    /// The patient-level agreement tables `pleura stats` shows too.
    static func patientAgreementTables(_ r: ExamReport) -> String {
        var out: [String] = []
        for a in r.agreements {
            let what = a.schema == "hu6" ? "Hu et al. (zone: worst frame class score; patient: mean frame score)"
                : "LUS (zone: worst severity 0–3; patient: sum over zones)"
            out.append("Patient-level agreement, \(what): ICC(2,1) over \(a.exams) exams scored by all of \(a.raters.joined(separator: ", ")): \(StatsCommand.fmt(a.icc))")
            if a.pairs.isEmpty { out.append("  (fewer than two raters)"); continue }
            out.append(StatsCommand.table(["a", "b", "zones", "quadratic κ (zones)", "exams", "ICC(2,1) (patients)"], a.pairs.map { p in
                [p.a, p.b, String(p.zones), StatsCommand.fmt(p.zoneKappa), String(p.exams), StatsCommand.fmt(p.icc)]
            }))
        }
        return out.joined(separator: "\n")
    }
}
