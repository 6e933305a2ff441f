import Foundation
import PleuraCore
import PleuraStore

/// The review report as one self-contained HTML page (``ReportHTML``): confusion matrices of the
/// model, the trainees and pairs of humans against each other, each trainee's agreement with the
/// reference over time, and the items flagged "the reference may be wrong".
struct ReviewReportPage {
    /// One confusion matrix to draw: counts[row][column], rows the first side.
    struct Matrix {
        var title: String
        var rows: String
        var columns: String
        var classes: [String]
        var counts: [[Int]]
        /// One line under it (n, kappa, F1).
        var caption: String
    }

    struct Flag {
        var media: String
        var frame: Int?
        var trainee: String
        var at: String
        var comment: String?
        var reference: String
        var own: String
    }

    let title: String
    let store: String
    let reference: String
    let modelMatrices: [(level: String, matrices: [Matrix])]
    let traineeMatrices: [Matrix]
    let humanMatrices: [Matrix]
    let progress: [ReviewProgress]
    let flags: [Flag]
    let notes: String
    /// Patient-level agreement over the store's exams (empty: no exams with zones).
    var patientAgreement: [PatientAgreement] = []

    var html: String {
        var body = """
            <h1>\(ReportHTML.esc(title))</h1>
            <p class="meta">reference \(ReportHTML.esc(reference)) · \(progress.count) trainee\(progress.count == 1 ? "" : "s") · \
            \(progress.map(\.items).reduce(0, +)) items answered · \(flags.count) flagged · store \(ReportHTML.esc(store))</p>
            <p class="note">\(ReportHTML.esc(notes))</p>
            """
        for (level, matrices) in modelMatrices where !matrices.isEmpty {
            body += ReportHTML.section("Model versus reference (\(level) level)",
                                       "Rows: the reference's answer; columns: the model's. The model's b_lines is compared with the reference's B1 or B2.",
                                       "<div class=\"row\">" + matrices.map(matrixSVG).joined() + "</div>")
        }
        if !traineeMatrices.isEmpty {
            body += ReportHTML.section("Trainees versus reference", "Rows: the reference's answer; columns: the trainee's locked answer (every review answer).",
                                       "<div class=\"row\">" + traineeMatrices.map(matrixSVG).joined() + "</div>")
        }
        if !humanMatrices.isEmpty {
            body += ReportHTML.section("Human versus human", "Severity of items both humans labelled (frame and video level together). Rows: the first by name.",
                                       "<div class=\"row\">" + humanMatrices.map(matrixSVG).joined() + "</div>")
        }
        if !patientAgreement.isEmpty {
            body += ReportHTML.section("Patient level (exams and zones)",
                                       "Quadratic-weighted κ on zone scores, ICC(2,1) (two-way random, absolute agreement, single rater; Shrout & Fleiss 1979) on patient scores.",
                                       ReportHTML.patientAgreementTable(patientAgreement))
        }
        body += ReportHTML.section("Progress of each trainee", "Share of answered fields agreeing with the reference, per day; severity quadratic-weighted kappa in the table.",
                                   progressSVG + progressTable)
        body += ReportHTML.section("Flagged: the reference may be wrong", "Items a trainee flagged for an expert to look at (also in pleura export --kind reviews).",
                                   flagTable)
        return ReportHTML.document(title: title, body: body)
    }

    func matrixSVG(_ m: Matrix) -> String {
        let k = m.classes.count, cell = k > 2 ? 34 : 44, left = 70, top = 36
        let width = max(left + cell * k + 10, 220), height = top + cell * k + 40
        let peak = max(1, m.counts.flatMap { $0 }.max() ?? 1)
        var svg = "<svg class=\"chart\" data-chart=\"confusion\" width=\"\(width)\" height=\"\(height)\" role=\"img\" aria-label=\"\(ReportHTML.esc(m.title))\">"
        svg += "<text x=\"0\" y=\"12\" style=\"font-weight:bold\">\(ReportHTML.esc(m.title))</text>"
        svg += "<text x=\"\(left)\" y=\"28\">\(ReportHTML.esc(m.columns)) →</text>"
        svg += "<text x=\"0\" y=\"\(top + cell * k / 2)\">\(ReportHTML.esc(m.rows))</text>"
        for r in 0..<k {
            svg += "<text x=\"\(left - 14)\" y=\"\(top + r * cell + cell / 2 + 4)\">\(ReportHTML.esc(m.classes[r]))</text>"
            for c in 0..<k {
                let n = r < m.counts.count && c < m.counts[r].count ? m.counts[r][c] : 0
                let t = Double(n) / Double(peak)
                // White → blue by count; the diagonal (agreement) outlined.
                let fill = String(format: "rgb(%d,%d,%d)", Int(255 - 222 * t), Int(255 - 153 * t), Int(255 - 83 * t))
                svg += "<rect class=\"cell\" x=\"\(left + c * cell)\" y=\"\(top + r * cell)\" width=\"\(cell - 2)\" height=\"\(cell - 2)\" fill=\"\(fill)\"\(r == c ? " stroke=\"#222\"" : "")/>"
                svg += "<text x=\"\(left + c * cell + cell / 2 - 6)\" y=\"\(top + r * cell + cell / 2 + 4)\"\(t > 0.6 ? " style=\"fill:#fff\"" : "")>\(n)</text>"
            }
        }
        for c in 0..<k { svg += "<text x=\"\(left + c * cell + cell / 2 - 4)\" y=\"\(top + k * cell + 12)\">\(ReportHTML.esc(m.classes[c]))</text>" }
        svg += "<text x=\"0\" y=\"\(height - 6)\">\(ReportHTML.esc(m.caption))</text></svg>"
        return svg
    }

    static let traineeColours = ["#2166ac", "#b2182b", "#1b7837", "#762a83", "#e08214", "#35978f"]

    var progressSVG: String {
        let days = Array(Set(progress.flatMap { $0.periods.map(\.day) })).sorted()
        guard !days.isEmpty else { return "<p class=\"note\">No locked answers yet.</p>" }
        let left = 40, width = 700, height = 200, plotW = width - left - 20, plotH = height - 50
        func x(_ i: Int) -> Int { left + (days.count == 1 ? plotW / 2 : i * plotW / (days.count - 1)) }
        func y(_ v: Double) -> Int { 20 + Int((1 - v) * Double(plotH)) }
        var svg = "<svg class=\"chart\" data-chart=\"progress\" width=\"\(width)\" height=\"\(height)\">"
        for v in [0.0, 0.5, 1.0] {
            svg += "<line x1=\"\(left)\" x2=\"\(left + plotW)\" y1=\"\(y(v))\" y2=\"\(y(v))\" stroke=\"#ddd\"/><text x=\"0\" y=\"\(y(v) + 4)\">\(Int(v * 100)) %</text>"
        }
        for (i, d) in days.enumerated() { svg += "<text x=\"\(x(i) - 30)\" y=\"\(height - 8)\">\(ReportHTML.esc(d))</text>" }
        for (t, p) in progress.enumerated() {
            let colour = Self.traineeColours[t % Self.traineeColours.count]
            let points = p.periods.compactMap { period in period.agreement.map { (days.firstIndex(of: period.day)!, $0) } }
            svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"" + points.map { "\(x($0.0)),\(y($0.1))" }.joined(separator: " ") + "\"/>"
            for (i, v) in points { svg += "<circle class=\"dot\" cx=\"\(x(i))\" cy=\"\(y(v))\" r=\"4\" fill=\"\(colour)\"/>" }
            svg += "<text x=\"\(left + 10 + t * 120)\" y=\"12\" style=\"fill:\(colour)\">● \(ReportHTML.esc(p.trainee))</text>"
        }
        return svg + "</svg>"
    }

    var progressTable: String {
        var rows = ""
        for p in progress {
            for f in p.fields {
                rows += "<tr><td>\(ReportHTML.esc(p.trainee))</td><td>\(ReportHTML.esc(f.field.rawValue))</td><td>\(f.n)</td><td>\(ReportHTML.f(f.agreement))</td>"
                    + "<td>\(ReportHTML.f(f.cohenKappa))</td><td>\(f.field == .severity ? ReportHTML.f(f.quadraticKappa) : "")</td><td>\(ReportHTML.f(f.f1))</td></tr>"
            }
            for d in p.periods {
                rows += "<tr><td>\(ReportHTML.esc(p.trainee))</td><td>day \(ReportHTML.esc(d.day))</td><td>\(d.items) items</td><td>\(ReportHTML.f(d.agreement))</td>"
                    + "<td></td><td>\(ReportHTML.f(d.severityQuadraticKappa))</td><td></td></tr>"
            }
        }
        return "<table><tr><th>trainee</th><th>field / day</th><th>n</th><th>agreement</th><th>Cohen κ</th><th>quadratic κ</th><th>F1</th></tr>\(rows)</table>"
    }

    var flagTable: String {
        guard !flags.isEmpty else { return "<p class=\"note\">Nothing flagged.</p>" }
        let rows = flags.map { f in
            "<tr class=\"flag\"><td>\(ReportHTML.esc(f.media))</td><td>\(f.frame.map(String.init) ?? "video")</td><td>\(ReportHTML.esc(f.trainee))</td>"
                + "<td>\(ReportHTML.esc(f.at))</td><td>\(ReportHTML.esc(f.reference))</td><td>\(ReportHTML.esc(f.own))</td><td>\(ReportHTML.esc(f.comment ?? ""))</td></tr>"
        }.joined()
        return "<table><tr><th>media</th><th>frame</th><th>trainee</th><th>when</th><th>reference said</th><th>trainee said</th><th>comment</th></tr>\(rows)</table>"
    }
}
