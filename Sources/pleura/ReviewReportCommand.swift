import ArgumentParser
import Foundation
import PleuraCore
import PleuraStore

/// `pleura report review --store DB -o DIR [--reference NAME] [--root DIR] [--title T]`
struct ReviewReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Report trainee reviews: index.html (inline SVG, no network) with confusion matrices, progress over time and flagged items.",
        discussion: """
            Confusion matrices of each model against the reference (severity and each finding, the \
            model's b_lines against B1 or B2; frame and video level, clips aggregated as --aggregation \
            says; predictions on a model's training files left out unless --include-training), of each \
            trainee's locked answers against the reference, and of pairs of humans on severity; each \
            trainee's agreement with the reference per day (share agreeing, quadratic-weighted kappa \
            for severity, kappa and F1 per finding); and every item flagged "the reference may be wrong".
            """)

    @Option(help: "Store database.")
    var store: String

    @Option(name: [.customShort("o"), .customLong("output")], help: "Folder for index.html (created when missing).")
    var output: String

    @Option(help: "Reference annotator (default: the store's only reference).")
    var reference: String?

    @Option(help: "Folder media paths are written relative to (default: the current directory).")
    var root: String?

    @Option(help: "Title of the page.")
    var title: String = "Trainee review"

    @OptionGroup var models: ModelAnswerArguments

    func run() throws {
        let db = try openExistingStore(store, next: "reviews are made with `pleura review SESSION`")
        let ref = try db.referenceAnnotator(reference)
        let options = try models.options()
        let annotators = try db.annotators()
        let nameOf = Dictionary(uniqueKeysWithValues: annotators.map { ($0.id, $0.name) })
        let rootPath = root ?? FileManager.default.currentDirectoryPath
        let pathOf = Dictionary(uniqueKeysWithValues: try db.allMedia().map { ($0.sha256, $0.exchangeName(root: rootPath)) })

        func matrix(_ title: String, rows: String, columns: String, _ c: ModelComparison, ordinal: Bool) -> ReviewReportPage.Matrix {
            let extra = ordinal ? "quadratic κ \(ReportHTML.f(c.quadraticKappa))" : "F1 \(ReportHTML.f(c.perClass.count > 1 ? c.perClass[1].f1 : nil))"
            return .init(title: title, rows: rows, columns: columns, classes: c.classes, counts: c.confusion,
                         caption: "n \(c.n) · κ \(ReportHTML.f(c.cohenKappa)) · \(extra)")
        }
        var modelMatrices: [(level: String, matrices: [ReviewReportPage.Matrix])] = []
        var training: [String] = []
        for level in ItemLevel.allCases {
            let report = try db.statistics(level: level, root: rootPath, models: options)
            var list: [ReviewReportPage.Matrix] = []
            for m in report.models {
                let short = String(m.model.prefix(8))
                if m.seenInTraining > 0 { training.append("\(m.seenInTraining) \(level.rawValue) items of model \(short) are on its training files (\(m.includesTraining ? "counted" : "left out"))") }
                if let c = m.severity.first(where: { $0.annotator == ref.name }) { list.append(matrix("severity · model \(short)", rows: ref.name, columns: "model", c, ordinal: true)) }
                for (f, cs) in m.findings { if let c = cs.first(where: { $0.annotator == ref.name }) { list.append(matrix("\(f.csvName) · model \(short)", rows: ref.name, columns: "model", c, ordinal: false)) } }
                if let c = m.bLines?.first(where: { $0.annotator == ref.name }) { list.append(matrix("b_lines (B1|B2) · model \(short)", rows: ref.name, columns: "model", c, ordinal: false)) }
            }
            modelMatrices.append((level.rawValue, list))
        }

        // Trainees: their review rows.
        let reviews = try db.reviews()
        let trainees = annotators.filter { a in a.role == .trainee && reviews.contains { $0.annotatorID == a.id } }
        let progress = trainees.map { t in ReviewProgress(trainee: t.name, reviews: reviews.filter { $0.annotatorID == t.id }) }
        var traineeMatrices: [ReviewReportPage.Matrix] = []
        for p in progress {
            for f in p.fields {
                let classes = f.field == .severity ? ["0", "1", "2", "3"] : ["0", "1"]
                traineeMatrices.append(.init(title: "\(f.field.rawValue) · \(p.trainee)", rows: ref.name, columns: p.trainee, classes: classes, counts: f.confusion,
                                             caption: "n \(f.n) · agree \(ReportHTML.f(f.agreement)) · " + (f.field == .severity ? "quadratic κ \(ReportHTML.f(f.quadraticKappa))" : "F1 \(ReportHTML.f(f.f1))")))
            }
        }

        // Pairs of humans on severity (labels, not reviews; trainees and models are no labellers here).
        let humans = Set(annotators.filter { $0.role != .model && $0.role != .trainee }.map(\.id))
        var severity: [String: [Int64: Int]] = [:]
        try db.forEachCurrentLabels { mediaID, frame, annotatorID, labels in
            guard humans.contains(annotatorID), let s = labels.severity else { return }
            severity["\(mediaID)/\(frame ?? -1)", default: [:]][annotatorID] = s.rawValue
        }
        var pairCounts: [String: [[Int]]] = [:]
        for byAnnotator in severity.values where byAnnotator.count >= 2 {
            let ids = byAnnotator.keys.sorted { (nameOf[$0] ?? "") < (nameOf[$1] ?? "") }
            for x in 0..<(ids.count - 1) { for y in (x + 1)..<ids.count {
                let key = "\(nameOf[ids[x]] ?? "?")\u{1}\(nameOf[ids[y]] ?? "?")"
                var c = pairCounts[key] ?? Array(repeating: Array(repeating: 0, count: 4), count: 4)
                c[byAnnotator[ids[x]]!][byAnnotator[ids[y]]!] += 1
                pairCounts[key] = c
            } }
        }
        let humanMatrices = pairCounts.keys.sorted().map { key -> ReviewReportPage.Matrix in
            let names = key.split(separator: "\u{1}").map(String.init)
            let c = pairCounts[key]!
            let flat = c.flatMap { $0 }.map(Double.init)
            let kappa = Agreement.cohenKappa(confusion: (0..<4).map { Array(flat[($0 * 4)..<($0 * 4 + 4)]) }, weighting: .quadratic)
            return .init(title: "severity · \(names[0]) vs \(names[1])", rows: names[0], columns: names[1], classes: ["0", "1", "2", "3"], counts: c,
                         caption: "n \(c.flatMap { $0 }.reduce(0, +)) · quadratic κ \(ReportHTML.f(kappa))")
        }

        let flags = reviews.filter { $0.field == ReviewMark.referenceFlag.rawValue }.map { r -> ReviewReportPage.Flag in
            let answers = reviews.filter { $0.annotatorID == r.annotatorID && $0.item == r.item && ReviewField(rawValue: $0.field) != nil }
            func said(_ v: (Review) -> String?) -> String { answers.compactMap { a in v(a).map { "\(a.field) \($0)" } }.joined(separator: ", ") }
            return .init(media: pathOf[r.item.mediaSHA256] ?? r.item.mediaSHA256, frame: r.item.frame, trainee: nameOf[r.annotatorID ?? 0] ?? "?",
                         at: r.at ?? "", comment: r.comment, reference: said(\.firstValue), own: said(\.ownValue))
        }
        let page = ReviewReportPage(title: title, store: db.path, reference: ref.name, modelMatrices: modelMatrices,
                                    traineeMatrices: traineeMatrices, humanMatrices: humanMatrices, progress: progress, flags: flags,
                                    notes: "Video-level model answers: \(options.aggregation.rawValue) of the frame predictions. "
                                        + (training.isEmpty ? "No prediction is on a model's training files." : training.joined(separator: "; ") + "."),
                                    patientAgreement: try db.examReport().agreements)
        let folder = URL(fileURLWithPath: output)
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        catch { throw PleuraError(file: output, "cannot create the folder (\(error.localizedDescription))") }
        let url = folder.appendingPathComponent("index.html")
        do { try Data(page.html.utf8).write(to: url, options: .atomic) }
        catch { throw PleuraError(file: url.path, "cannot write the report (\(error.localizedDescription))") }
        print(SafeText.sanitize("wrote \(url.path): \(progress.count) trainees, \(progress.map(\.items).reduce(0, +)) items answered, \(flags.count) flagged"))
    }
}
