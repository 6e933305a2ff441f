import Foundation
import PleuraCore

extension ReportHTML {
    /// Patient-level agreement as a table: per schema and pair, zone κ and patient ICC(2,1).
    static func patientAgreementTable(_ list: [PatientAgreement]) -> String {
        var rows = ""
        for a in list {
            let schema = a.schema == "hu6" ? "Hu et al. (mean frame score)" : "LUS (sum of zone worst)"
            rows += "<tr><td>\(esc(schema))</td><td>all: \(esc(a.raters.joined(separator: ", ")))</td><td></td><td></td><td>\(a.exams)</td><td>\(f(a.icc, 3))</td></tr>"
            for p in a.pairs {
                rows += "<tr><td>\(esc(schema))</td><td>\(esc(p.a)) – \(esc(p.b))</td><td>\(p.zones)</td><td>\(f(p.zoneKappa, 3))</td><td>\(p.exams)</td><td>\(f(p.icc, 3))</td></tr>"
            }
        }
        return "<table class=\"patient-agreement\"><tr><th>schema</th><th>raters</th><th>zones</th><th>quadratic κ (zones)</th><th>exams</th><th>ICC(2,1) (patients)</th></tr>\(rows)</table>"
    }
}
