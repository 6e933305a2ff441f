import ArgumentParser
import Foundation
import PleuraCore
import PleuraStore

/// `pleura stats --store DB [--json] [--level frame|video]`.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Agreement between annotators, rating summaries and model-vs-human figures.",
        discussion: """
            Over the current labels at one level (frame: labels of single frames; video: labels of \
            whole clips). Severity: Fleiss' kappa, Krippendorff's alpha (nominal, ordinal, \
            interval) and, per pair of annotators, Cohen's kappa and quadratic-weighted kappa. Each \
            finding: Fleiss' kappa, Krippendorff's alpha (nominal), pairwise Cohen's kappa. Ratings \
            (−3…3): mean, sd, median and histogram per rater, per class the map explains and per \
            reference severity, plus agreement. Model: its stored predictions against each \
            annotator (kappa, confusion matrix, sensitivity, specificity, precision, F1), its \
            b_lines against the annotator's "B1 or B2"; at video level a clip's frame predictions \
            combined by --aggregation. Predictions on files the model card lists as training files \
            ("seen in training") are left out unless --include-training, and counted either way. \
            Exams with zones add patient-level agreement (JSON: patient_agreement): quadratic-weighted \
            kappa on zone scores and ICC(2,1) (Shrout & Fleiss: two-way random, absolute agreement, \
            single rater) on patient scores, for the LUS sum and Hu et al.'s mean. \
            "—" (null in JSON) marks a statistic that is undefined: too few pairs, or no variation.
            """)

    @Option(help: "Store database.")
    var store: String

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    @Option(help: "frame or video.")
    var level: ItemLevel = .frame

    @Option(help: "Folder media paths are written relative to in the rating study (as for export and report).")
    var root: String?

    @OptionGroup var models: ModelAnswerArguments

    func run() throws {
        let db = try openExistingStore(store, next: "create one with `pleura add` (clips) or `pleura import` (labels)")
        let report = try db.statistics(level: level, root: root ?? FileManager.default.currentDirectoryPath,
                                       models: try models.options())
        // Patient level (exams and zones): quadratic kappa on zone scores, ICC(2,1) on patient scores.
        let exams = try db.examReport()
        if json {
            let object = report.json
            guard object.hasSuffix("}") else { print(object); return }
            print(String(object.dropLast()) + (object == "{}" ? "" : ",") + "\"patient_agreement\":" + exams.agreementJSON + "}")
            return
        }
        print(Self.tables(report))
        let patientLevel = ExamsCommand.patientAgreementTables(exams)
        if !patientLevel.isEmpty {
            print("")
            print(patientLevel.split(separator: "\n", omittingEmptySubsequences: false).map { SafeText.sanitize(String($0)) }.joined(separator: "\n"))
        }
    }

    static func fmt(_ d: Double?) -> String { d.map { String(format: "%.3f", $0) } ?? "—" }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == 0 ? c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                                                     : String(repeating: " ", count: widths[i] - c.count) + c }
                .joined(separator: "  ")
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line))
            .map { "  " + $0 }.joined(separator: "\n")
    }

    /// The rating study as `pleura report ratings` shows it (every rating, frames and clips).
    static func studyTables(_ study: RatingStudy) -> String {
        var out = ["Rating study (every rating, frames and clips; the numbers of `pleura report ratings`)"]
        func pct(_ d: Double?) -> String { d.map { String(format: "%.0f %%", $0 * 100) } ?? "—" }
        out.append(table(["group", "n", "mean", "sd", "median", "positive", "−3 −2 −1 0 1 2 3"], study.groups.map { g in
            [g.dimension == "all" ? "all" : "\(g.dimension) \(g.dimension == "model" ? String(g.key.prefix(12)) : g.key)",
             String(g.summary.count), fmt(g.summary.mean), fmt(g.summary.sd), fmt(g.summary.median), pct(g.summary.sharePositive),
             g.summary.histogram.map(String.init).joined(separator: " ")]
        }))
        func est(_ e: RatingStudy.Estimate?) -> String { e.map { "\(fmt($0.value)) [\(fmt($0.low)), \(fmt($0.high))]" } ?? "—" }
        var agreement = [["Krippendorff α ordinal", "\(study.agreement.units) units", est(study.agreement.alphaOrdinal)]]
        agreement += study.agreement.pairs.map { ["quadratic κ \($0.a) – \($0.b)", "n \($0.n)", est($0.quadraticKappa)] }
        out.append("")
        out.append(table(["agreement (95 % bootstrap CI)", "n", "value [CI]"], agreement))
        for c in study.comparisons {
            out.append("")
            out.append("  paired \(c.label): \(c.pairs) pairs, mean \(fmt(c.meanFirst)) vs \(fmt(c.meanSecond)), Wilcoxon W \(fmt(c.wilcoxonW)) "
                       + "p \(c.wilcoxonP.map { String(format: "%.4g", $0) } ?? "—") (\(c.nonZero) non-zero); better: \(c.first) \(c.betterFirst), "
                       + "equal \(c.betterEqual), \(c.second) \(c.betterSecond); α nominal \(fmt(c.betterAlphaNominal)) over \(c.betterUnits) trials")
            for p in c.betterPairs {
                out.append("    better \(p.a) – \(p.b): n \(p.n), agreeing \(pct(p.shareAgreeing)), Cohen κ \(fmt(p.cohenKappa))")
            }
        }
        if !study.patterns.isEmpty {
            out.append("")
            out.append(table(["pattern highlighted", "method", "asked", "highlighted", "rate", "seen", "rate when seen"], study.patterns.map { p in
                [p.pattern.rawValue, p.method ?? "all", String(p.asked), String(p.highlighted), pct(p.rate), String(p.visible), pct(p.rateWhenVisible)]
            }))
        }
        return out.joined(separator: "\n")
    }

    static func tables(_ r: StatisticsReport) -> String {
        var out: [String] = []
        out.append("\(r.level.rawValue)-level labels: \(r.items) items, annotators: \(r.annotators.isEmpty ? "none" : r.annotators.joined(separator: ", "))")
        if r.items == 0 {
            out.append("(no \(r.level.rawValue)-level labels in this store: try --level \(r.level == .frame ? "video" : "frame"))")
        }
        out.append("")
        out.append("Agreement over all annotators (items with ≥ 2 answers)")
        var rows = [["severity", String(r.severity.items), fmt(r.severity.fleissKappa), fmt(r.severity.krippendorffAlphaNominal),
                     fmt(r.severity.krippendorffAlphaOrdinal), fmt(r.severity.krippendorffAlphaInterval)]]
        for (f, a) in r.findings {
            rows.append([f.csvName, String(a.items), fmt(a.fleissKappa), fmt(a.krippendorffAlphaNominal), "", ""])
        }
        out.append(table(["field", "items", "Fleiss κ", "α nominal", "α ordinal", "α interval"], rows))
        out.append("")
        out.append("Pairs of annotators")
        var pairRows: [[String]] = []
        for p in r.severity.pairwise { pairRows.append(["severity", p.a, p.b, String(p.n), fmt(p.cohenKappa), fmt(p.quadraticKappa)]) }
        for (f, a) in r.findings { for p in a.pairwise { pairRows.append([f.csvName, p.a, p.b, String(p.n), fmt(p.cohenKappa), ""]) } }
        out.append(pairRows.isEmpty ? "  (fewer than two annotators)" : table(["field", "a", "b", "n", "Cohen κ", "quadratic κ"], pairRows))
        out.append("")
        out.append("Heatmap ratings (−3 only distracting … 3 very helpful): \(r.ratingsCount)")
        if r.ratingsCount > 0 {
            func srow(_ name: String, _ s: RatingSummary) -> [String] {
                [name, String(s.count), fmt(s.mean), fmt(s.sd), fmt(s.median), s.histogram.map(String.init).joined(separator: " ")]
            }
            var sr = [srow("all", r.ratingsOverall)]
            sr += r.ratingsPerRater.map { srow("rater \($0.0)", $0.1) }
            sr += r.ratingsPerPredictedClass.map { srow("class \($0.0)", $0.1) }
            sr += r.ratingsPerTrueClass.map { srow("reference \($0.0)", $0.1) }
            out.append(table(["group", "n", "mean", "sd", "median", "histogram −3…3"], sr))
            let a = r.ratingsAgreement
            out.append("  agreement: \(a.items) maps rated by ≥ 2, α ordinal \(fmt(a.krippendorffAlphaOrdinal)), α interval \(fmt(a.krippendorffAlphaInterval))")
            for p in a.pairwise { out.append("  \(p.a) – \(p.b): n \(p.n), quadratic κ \(fmt(p.quadraticKappa))") }
        }
        if let study = r.ratingStudy { out.append(""); out.append(studyTables(study)) }
        for m in r.models {
            out.append("")
            let rule = r.level == .video ? ", clips: \(r.aggregation.rawValue) of the frame predictions" : ""
            let training = m.seenInTraining == 0 ? "" : m.includesTraining
                ? "; \(m.seenInTraining) items on its training files counted (--include-training)"
                : "; \(m.seenInTraining) items on its training files left out (seen in training; --include-training counts them)"
            out.append("Model \(m.model.prefix(16)) against each annotator\(rule)\(training)")
            var mr: [[String]] = []
            for c in m.severity {
                mr.append(["severity", c.annotator, String(c.n), fmt(c.cohenKappa), fmt(c.quadraticKappa), fmt(c.accuracy), "", "", "", ""])
            }
            for (f, list) in m.findings {
                for c in list {
                    let pos = c.perClass.count > 1 ? c.perClass[1] : c.perClass[0]
                    mr.append([f.csvName, c.annotator, String(c.n), fmt(c.cohenKappa), "", fmt(c.accuracy), fmt(pos.sensitivity),
                               fmt(pos.specificity), fmt(pos.precision), fmt(pos.f1)])
                }
            }
            for c in m.bLines ?? [] {
                let pos = c.perClass.count > 1 ? c.perClass[1] : c.perClass[0]
                mr.append(["b_lines (B1|B2)", c.annotator, String(c.n), fmt(c.cohenKappa), "", fmt(c.accuracy), fmt(pos.sensitivity),
                           fmt(pos.specificity), fmt(pos.precision), fmt(pos.f1)])
            }
            out.append(mr.isEmpty ? "  (no item both the model and an annotator answered)"
                       : table(["field", "annotator", "n", "Cohen κ", "quadratic κ", "accuracy", "sens", "spec", "prec", "F1"], mr))
        }
        return out.joined(separator: "\n").split(separator: "\n", omittingEmptySubsequences: false)
            .map { SafeText.sanitize(String($0)) }.joined(separator: "\n")
    }
}
