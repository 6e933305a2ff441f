import Foundation
import PleuraCore

/// The rating report as one HTML file: inline CSS and SVG, no script, no fonts or images from
/// anywhere, so it opens from a file on a machine without network. Every number on it is one of
/// ``RatingStudy/numbers`` (the report's CSV), formatted to 2–3 decimals.
struct RatingReportPage {
    let study: RatingStudy
    let records: [RatingRecord]
    let title: String
    let store: String

    static let ratingColours = ["#b2182b", "#ef8a62", "#fddbc7", "#e0e0e0", "#d1e5f0", "#67a9cf", "#2166ac"]

    var html: String {
        let rated = records.filter { $0.rating != nil }
        let items = Set(rated.map { "\($0.media)|\($0.frame ?? -1)" }).count
        let trials = Set(rated.map { "\($0.annotator)|\($0.media)|\($0.trial)" }).count
        var body = """
            <h1>\(esc(title))</h1>
            <p class="meta">\(rated.count) ratings of \(items) items in \(trials) trials by \(study.raters.count) raters \
            (\(esc(study.raters.joined(separator: ", ")))) · store \(esc(store)) · \
            scales: \(esc(Set(rated.map(\.scale.rawValue)).sorted().joined(separator: ", "))) · every number is in \
            <a href="numbers.csv">numbers.csv</a></p>
            <p class="legend">\(legend)</p>
            """
        body += section("Ratings by group", "Distribution of ratings (−3 only distracting … 3 very helpful): share of each answer, centred on 0; mean ± sd, median and share positive on the right.",
                        likert(study.groups) + summaryTable(study.groups))
        body += section("Mean ± sd", "Mean rating per group with one standard deviation either side.", meanPlot(study.groups))
        body += section("Agreement between raters", "Units: the same map of the same trial rated by at least two raters (\(study.agreement.units) units). Percentile bootstrap 95 % intervals over units, \(RatingStudy.bootstrapResamples) resamples, fixed seed.",
                        agreementPlot(study.agreement) + agreementTable(study.agreement))
        if !study.comparisons.isEmpty {
            body += section("Paired trials", "Two maps of the same item side by side, slots drawn per rater. Wilcoxon signed-rank test of first − second rating (two-sided); which map the rater found better.",
                            study.comparisons.map(comparison).joined())
        }
        if !study.patterns.isEmpty {
            body += section("Patterns highlighted", "Share of rated maps that highlight each pattern, per method; in brackets, the share among maps whose rater saw the pattern in the frame.",
                            patternPlot(study.patterns) + patternTable(study.patterns))
        }
        return ReportHTML.document(title: title, body: body)
    }

    // MARK: - Pieces

    func esc(_ s: String) -> String { ReportHTML.esc(s) }
    func f(_ d: Double?, _ digits: Int = 2) -> String { ReportHTML.f(d, digits) }
    func section(_ heading: String, _ note: String, _ content: String) -> String { ReportHTML.section(heading, note, content) }

    var legend: String {
        (-3...3).map { v in
            "<span class=\"swatch\" style=\"background:\(Self.ratingColours[v + 3])\"></span>\(v) \(esc(HeatmapRating(rawValue: v)!.meaning))"
        }.joined()
    }

    func groupName(_ g: RatingStudy.Group) -> String {
        switch g.dimension {
        case "all": return "all ratings"
        case "model": return "model \(g.key.prefix(12))…"
        case "pattern": return "highlights " + (RatingPattern(rawValue: g.key)?.displayName ?? g.key)
        default: return "\(g.dimension) \(g.key)"
        }
    }

    /// Diverging stacked bars, one row per group.
    func likert(_ groups: [RatingStudy.Group]) -> String {
        let rowHeight = 22, labelWidth = 230, barWidth = 520, width = labelWidth + barWidth + 250
        let height = groups.count * rowHeight + 30
        let centre = Double(labelWidth) + Double(barWidth) / 2
        var svg = "<svg class=\"chart\" data-chart=\"distribution\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"rating distribution per group\">\n"
        svg += "<line x1=\"\(centre)\" y1=\"0\" x2=\"\(centre)\" y2=\"\(height - 24)\" stroke=\"#888\"/>\n"
        for (i, g) in groups.enumerated() {
            let y = i * rowHeight + 2, s = g.summary
            svg += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 14)\" text-anchor=\"end\">\(esc(groupName(g))) (n \(s.count))</text>\n"
            guard s.count > 0 else { continue }
            let share = s.histogram.map { Double($0) / Double(s.count) }
            let left = share[0..<3].reduce(0, +) + share[3] / 2
            var x = centre - left * Double(barWidth) / 2 * 1.0
            for (v, part) in share.enumerated() where part > 0 {
                let w = part * Double(barWidth) / 2
                svg += "<rect class=\"bar\" x=\"\(String(format: "%.1f", x))\" y=\"\(y)\" width=\"\(String(format: "%.1f", w))\" height=\"\(rowHeight - 6)\" fill=\"\(Self.ratingColours[v])\"><title>\(v - 3): \(s.histogram[v]) (\(f(part * 100, 0)) %)</title></rect>\n"
                x += w
            }
            svg += "<text x=\"\(labelWidth + barWidth + 10)\" y=\"\(y + 14)\">\(f(s.mean)) ± \(f(s.sd)) · median \(f(s.median, 1)) · \(f(s.sharePositive.map { $0 * 100 }, 0)) % positive</text>\n"
        }
        let axisY = height - 10
        for (label, share) in [("100 %", -1.0), ("50 %", -0.5), ("0", 0.0), ("50 %", 0.5), ("100 %", 1.0)] {
            svg += "<text x=\"\(centre + share * Double(barWidth) / 2)\" y=\"\(axisY)\" text-anchor=\"middle\">\(label)</text>\n"
        }
        return svg + "</svg>\n"
    }

    func summaryTable(_ groups: [RatingStudy.Group]) -> String {
        var t = "<table class=\"numbers\"><tr><th>group</th><th>n</th><th>mean</th><th>sd</th><th>median</th><th>share positive</th>"
            + (-3...3).map { "<th>\($0)</th>" }.joined() + "</tr>\n"
        for g in groups {
            let s = g.summary
            t += "<tr><td>\(esc(groupName(g)))</td><td>\(s.count)</td><td>\(f(s.mean, 3))</td><td>\(f(s.sd, 3))</td><td>\(f(s.median, 1))</td><td>\(f(s.sharePositive, 3))</td>"
                + s.histogram.map { "<td>\($0)</td>" }.joined() + "</tr>\n"
        }
        return t + "</table>\n"
    }

    /// Dots at the mean with ±sd whiskers on a −3…3 axis.
    func meanPlot(_ groups: [RatingStudy.Group]) -> String {
        let rowHeight = 20, labelWidth = 230, plotWidth = 520, width = labelWidth + plotWidth + 40
        let height = groups.count * rowHeight + 34
        func x(_ v: Double) -> String { String(format: "%.1f", Double(labelWidth) + (v + 3) / 6 * Double(plotWidth)) }
        var svg = "<svg class=\"chart\" data-chart=\"means\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"mean rating per group\">\n"
        for v in -3...3 {
            svg += "<line x1=\"\(x(Double(v)))\" y1=\"0\" x2=\"\(x(Double(v)))\" y2=\"\(height - 24)\" stroke=\"\(v == 0 ? "#888" : "#e4e4e4")\"/>"
            svg += "<text x=\"\(x(Double(v)))\" y=\"\(height - 10)\" text-anchor=\"middle\">\(v)</text>\n"
        }
        for (i, g) in groups.enumerated() {
            let y = i * rowHeight + 10
            svg += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 4)\" text-anchor=\"end\">\(esc(groupName(g)))</text>\n"
            guard let mean = g.summary.mean else { continue }
            let sd = g.summary.sd ?? 0
            svg += "<line class=\"whisker\" x1=\"\(x(max(-3, mean - sd)))\" y1=\"\(y)\" x2=\"\(x(min(3, mean + sd)))\" y2=\"\(y)\" stroke=\"#2166ac\" stroke-width=\"2\"/>"
            svg += "<circle class=\"dot\" cx=\"\(x(mean))\" cy=\"\(y)\" r=\"5\" fill=\"#2166ac\"><title>\(f(mean, 3)) ± \(f(sd, 3))</title></circle>\n"
        }
        return svg + "</svg>\n"
    }

    /// Forest plot of α and each pair's κ with their intervals, on −1…1.
    func agreementPlot(_ a: RatingStudy.Agreement) -> String {
        var rows: [(String, RatingStudy.Estimate?)] = [("Krippendorff α (ordinal), all raters", a.alphaOrdinal)]
        rows += a.pairs.map { ("quadratic κ \($0.a) – \($0.b) (n \($0.n))", $0.quadraticKappa) }
        let rowHeight = 22, labelWidth = 300, plotWidth = 460, width = labelWidth + plotWidth + 160
        let height = rows.count * rowHeight + 34
        func x(_ v: Double) -> String { String(format: "%.1f", Double(labelWidth) + (max(-1, min(1, v)) + 1) / 2 * Double(plotWidth)) }
        var svg = "<svg class=\"chart\" data-chart=\"agreement\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"agreement between raters\">\n"
        for v in stride(from: -1.0, through: 1.0, by: 0.5) {
            svg += "<line x1=\"\(x(v))\" y1=\"0\" x2=\"\(x(v))\" y2=\"\(height - 24)\" stroke=\"\(v == 0 ? "#888" : "#e4e4e4")\"/>"
            svg += "<text x=\"\(x(v))\" y=\"\(height - 10)\" text-anchor=\"middle\">\(f(v, 1))</text>\n"
        }
        for (i, (label, e)) in rows.enumerated() {
            let y = i * rowHeight + 12
            svg += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 4)\" text-anchor=\"end\">\(esc(label))</text>\n"
            guard let e else { svg += "<text x=\"\(labelWidth + 4)\" y=\"\(y + 4)\">undefined</text>\n"; continue }
            if let lo = e.low, let hi = e.high {
                svg += "<line class=\"whisker\" x1=\"\(x(lo))\" y1=\"\(y)\" x2=\"\(x(hi))\" y2=\"\(y)\" stroke=\"#444\" stroke-width=\"2\"/>"
            }
            svg += "<rect class=\"estimate\" x=\"\(Double(x(e.value))! - 5)\" y=\"\(y - 5)\" width=\"10\" height=\"10\" fill=\"\(i == 0 ? "#b2182b" : "#2166ac")\"/>"
            svg += "<text x=\"\(labelWidth + plotWidth + 10)\" y=\"\(y + 4)\">\(f(e.value, 3)) [\(f(e.low, 3)), \(f(e.high, 3))]</text>\n"
        }
        return svg + "</svg>\n"
    }

    func agreementTable(_ a: RatingStudy.Agreement) -> String {
        var t = "<table class=\"numbers\"><tr><th>statistic</th><th>n</th><th>value</th><th>95 % CI</th></tr>\n"
        t += "<tr><td>Krippendorff α (ordinal)</td><td>\(a.units) units</td><td>\(f(a.alphaOrdinal?.value, 3))</td><td>\(f(a.alphaOrdinal?.low, 3)) – \(f(a.alphaOrdinal?.high, 3))</td></tr>\n"
        for p in a.pairs {
            t += "<tr><td>quadratic κ \(esc(p.a)) – \(esc(p.b))</td><td>\(p.n)</td><td>\(f(p.quadraticKappa?.value, 3))</td><td>\(f(p.quadraticKappa?.low, 3)) – \(f(p.quadraticKappa?.high, 3))</td></tr>\n"
        }
        return t + "</table>\n"
    }

    func comparison(_ c: RatingStudy.Comparison) -> String {
        let total = max(1, c.betterFirst + c.betterEqual + c.betterSecond)
        let width = 760, barWidth = 520
        var svg = "<h3 style=\"font-size:14px\">\(esc(c.label))</h3>\n"
        svg += "<svg class=\"chart\" data-chart=\"better\" width=\"\(width)\" height=\"54\" viewBox=\"0 0 \(width) 54\" role=\"img\" aria-label=\"which map is better\">\n"
        var x = 150.0
        svg += "<text x=\"142\" y=\"20\" text-anchor=\"end\">which is better</text>\n"
        for (label, count, colour) in [(c.first, c.betterFirst, "#2166ac"), ("equal", c.betterEqual, "#bbbbbb"), (c.second, c.betterSecond, "#b2182b")] where count > 0 {
            let w = Double(count) / Double(total) * Double(barWidth)
            svg += "<rect class=\"bar\" x=\"\(String(format: "%.1f", x))\" y=\"6\" width=\"\(String(format: "%.1f", w))\" height=\"20\" fill=\"\(colour)\"><title>\(esc(label)): \(count)</title></rect>"
            svg += "<text x=\"\(String(format: "%.1f", x + 4))\" y=\"42\">\(esc(label)) \(count)</text>\n"
            x += w
        }
        svg += "</svg>\n"
        var t = "<table class=\"numbers\"><tr><th>paired ratings</th><th>mean \(esc(c.first))</th><th>mean \(esc(c.second))</th><th>non-zero differences</th><th>Wilcoxon W</th><th>p</th><th>better: agreement α (nominal)</th></tr>\n"
        t += "<tr><td>\(c.pairs)</td><td>\(f(c.meanFirst, 3))</td><td>\(f(c.meanSecond, 3))</td><td>\(c.nonZero)</td><td>\(f(c.wilcoxonW, 1))</td><td>\(c.wilcoxonP.map { String(format: "%.4g", $0) } ?? "—")</td><td>\(f(c.betterAlphaNominal, 3)) (\(c.betterUnits) trials)</td></tr></table>\n"
        if !c.betterPairs.isEmpty {
            t += "<table class=\"numbers\"><tr><th>\"which is better\"</th><th>trials</th><th>share agreeing</th><th>Cohen κ</th></tr>\n"
            for p in c.betterPairs {
                t += "<tr><td>\(esc(p.a)) – \(esc(p.b))</td><td>\(p.n)</td><td>\(f(p.shareAgreeing, 3))</td><td>\(f(p.cohenKappa, 3))</td></tr>\n"
            }
            t += "</table>\n"
        }
        return svg + t
    }

    /// Horizontal bars of highlight rates, one row per pattern and method.
    func patternPlot(_ rates: [RatingStudy.PatternRate]) -> String {
        let rows = rates.filter { $0.method != nil }
        let rowHeight = 18, labelWidth = 260, barWidth = 460, width = labelWidth + barWidth + 160
        let height = rows.count * rowHeight + 30
        let methods = Array(Set(rows.compactMap(\.method))).sorted()
        let colours = ["#2166ac", "#b2182b", "#1b7837", "#762a83"]
        var svg = "<svg class=\"chart\" data-chart=\"patterns\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"pattern highlight rates\">\n"
        for (i, r) in rows.enumerated() {
            let y = i * rowHeight + 2
            let colour = colours[(methods.firstIndex(of: r.method!) ?? 0) % colours.count]
            svg += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 12)\" text-anchor=\"end\">\(esc(r.pattern.displayName)) · \(esc(r.method!))</text>"
            let w = (r.rate ?? 0) * Double(barWidth)
            svg += "<rect class=\"bar\" x=\"\(labelWidth)\" y=\"\(y)\" width=\"\(String(format: "%.1f", w))\" height=\"\(rowHeight - 4)\" fill=\"\(colour)\"/>"
            svg += "<text x=\"\(String(format: "%.1f", Double(labelWidth) + w + 6))\" y=\"\(y + 12)\">\(f((r.rate ?? 0) * 100, 0)) % (\(f(r.rateWhenVisible.map { $0 * 100 }, 0)) % when seen)</text>\n"
        }
        svg += "<text x=\"\(labelWidth)\" y=\"\(height - 8)\">0</text><text x=\"\(labelWidth + barWidth)\" y=\"\(height - 8)\" text-anchor=\"end\">100 %</text>\n"
        return svg + "</svg>\n"
    }

    func patternTable(_ rates: [RatingStudy.PatternRate]) -> String {
        var t = "<table class=\"numbers\"><tr><th>pattern</th><th>method</th><th>maps asked</th><th>highlighted</th><th>rate</th><th>seen in frame</th><th>highlighted when seen</th><th>rate when seen</th></tr>\n"
        for r in rates {
            t += "<tr><td>\(esc(r.pattern.displayName))</td><td>\(esc(r.method ?? "all"))</td><td>\(r.asked)</td><td>\(r.highlighted)</td><td>\(f(r.rate, 3))</td><td>\(r.visible)</td><td>\(r.highlightedWhenVisible)</td><td>\(f(r.rateWhenVisible, 3))</td></tr>\n"
        }
        return t + "</table>\n"
    }
}
