import Foundation
import PleuraCore

/// Patient scores and patient-level agreement over a store's exams: what `pleura exams` prints and
/// exports and what `pleura stats` adds. Pseudonyms only; media by content hash, never by path
/// (a path may hold the identifiers a file-name pattern reads).
public struct ExamReport: Sendable {
    public var items: [ZoneItem]
    public var zones: [ZoneScore]
    public var patients: [PatientScore]
    /// `lus` (zone worst severity, 14-zone sum) and `hu6` (zone worst class, patient mean), each
    /// only when some rater gave such scores.
    public var agreements: [PatientAgreement]
    /// Media per exam (and zone) as placed.
    public var membership: [MediaExam]

    public static let itemHeader = ["patient", "study", "zone", "media_sha256", "frame", "rater", "severity", "frame_class", "frame_score"]
    public static let zoneHeader = ["patient", "study", "zone", "rater", "worst_severity", "hu_worst", "hu_mean", "hu_frames"]
    public static let patientHeader = ["patient", "study", "rater", "lus_score", "zones_scored", "zones_total", "hu_mean", "hu_frames"]

    static func number(_ d: Double?) -> String {
        guard let d else { return "" }
        return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(format: "%.17g", d)
    }

    /// One row per scored item (frame −1: the whole clip).
    public var itemsCSV: String {
        var out = CSV.formatRow(Self.itemHeader)
        for i in items {
            out += CSV.formatRow([i.exam.patient, i.exam.study, i.zone, i.media, String(i.frame), i.rater, i.severity.map(String.init) ?? "",
                                  i.huClass?.rawValue ?? "", Self.number(i.huClass?.score)])
        }
        return out
    }

    public var zonesCSV: String {
        var out = CSV.formatRow(Self.zoneHeader)
        for z in zones {
            out += CSV.formatRow([z.exam.patient, z.exam.study, z.zone, z.rater, z.worstSeverity.map(String.init) ?? "",
                                  Self.number(z.huWorst), Self.number(z.huMean), String(z.huFrames)])
        }
        return out
    }

    public var patientsCSV: String {
        var out = CSV.formatRow(Self.patientHeader)
        for p in patients {
            out += CSV.formatRow([p.exam.patient, p.exam.study, p.rater, p.lusScore.map(String.init) ?? "", String(p.zonesScored),
                                  p.zonesTotal.map(String.init) ?? "", Self.number(p.huMean), String(p.huFrames)])
        }
        return out
    }

    /// `{"lus": {...}, "hu6": {...}}`: per schema the pairs (zone kappa, patient ICC) and the
    /// ICC over all raters.
    public var agreementJSON: String {
        func num(_ d: Double?) -> String { d.map { $0.isFinite ? String(format: "%.17g", $0) : "null" } ?? "null" }
        let parts = agreements.map { a -> String in
            let pairs = a.pairs.map { p in
                "{\"a\":\(SafeText.jsonQuoted(p.a)),\"b\":\(SafeText.jsonQuoted(p.b)),\"zones\":\(p.zones),\"zone_quadratic_kappa\":\(num(p.zoneKappa)),"
                    + "\"exams\":\(p.exams),\"patient_icc2_1\":\(num(p.icc))}"
            }.joined(separator: ",")
            return "\(SafeText.jsonQuoted(a.schema)):{\"raters\":[\(a.raters.map(SafeText.jsonQuoted).joined(separator: ","))],"
                + "\"exams\":\(a.exams),\"patient_icc2_1\":\(num(a.icc)),\"pairs\":[\(pairs)]}"
        }
        return "{" + parts.joined(separator: ",") + "}"
    }
}

extension AnnotationStore {
    /// Scores and agreement of every exam with zones (see ``ExamReport``).
    public func examReport(includeModels: Bool = true) throws -> ExamReport {
        let membership = try examMembership()
        let items = try zoneItems(includeModels: includeModels)
        var totals: [ExamKey: Int] = [:]
        for m in membership {
            guard let e = m.exam, let name = m.zoneProtocol, let p = LungZoneProtocol.named(name) else { continue }
            totals[e] = p.zones.count
        }
        let zones = PatientScoring.zoneScores(items)
        let patients = PatientScoring.patientScores(items) { totals[$0] }
        var agreements: [PatientAgreement] = []
        if patients.contains(where: { $0.lusScore != nil }) { agreements.append(.compute(schema: "lus", zones: zones, patients: patients)) }
        if patients.contains(where: { $0.huMean != nil }) { agreements.append(.compute(schema: "hu6", zones: zones, patients: patients)) }
        return ExamReport(items: items, zones: zones, patients: patients, agreements: agreements, membership: membership)
    }
}
