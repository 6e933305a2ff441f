import ArgumentParser
import Foundation
import PleuraCore
import PleuraStore

/// `pleura report ratings --store DB -o DIR [--root DIR] [--title T]`
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a report of a study as a self-contained web page plus a CSV of its numbers.",
        subcommands: [RatingReportCommand.self, ReviewReportCommand.self])
}

struct RatingReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ratings",
        abstract: "Report a heatmap-rating panel study: index.html (inline SVG charts, no network) and numbers.csv.",
        discussion: """
            The page shows the rating distribution per class the map explains, method, model, \
            highlighted pattern and rater (mean ± sd, median, share positive, histogram); agreement \
            between raters (Krippendorff's ordinal alpha and pairwise quadratic-weighted kappa, with \
            bootstrap 95 % intervals, fixed seed); for paired trials the Wilcoxon signed-rank test and \
            agreement on "which is better"; and how often each pattern is highlighted. numbers.csv \
            (section,group,statistic,value) holds every number on the page; `pleura stats` prints \
            the same. The numbers are computed from exactly the rows `pleura export --kind ratings` \
            writes (with the same --root), so they can be recomputed from that file.
            """)

    @Option(help: "Store database.")
    var store: String

    @Option(name: [.customShort("o"), .customLong("output")], help: "Folder for index.html and numbers.csv (created when missing).")
    var output: String

    @Option(help: "Folder media paths are written relative to (default: the current directory).")
    var root: String?

    @Option(help: "Title of the page.")
    var title: String = "Heatmap rating study"

    func run() throws {
        let db = try openExistingStore(store, next: "ratings are made with `pleura rate SESSION` or `pleura import`")
        let records = try db.ratingRecords(root: root ?? FileManager.default.currentDirectoryPath).map(\.record)
        guard records.contains(where: { $0.rating != nil }) else {
            throw PleuraError(file: store, "no ratings in this store: rate with `pleura rate SESSION` (or import a rating CSV) first")
        }
        let study = RatingStudy(records: records)
        let folder = URL(fileURLWithPath: output)
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        catch { throw PleuraError(file: output, "cannot create the folder (\(error.localizedDescription))") }
        let page = RatingReportPage(study: study, records: records, title: title, store: db.path).html
        for (name, text) in [("numbers.csv", study.numbersCSV), ("index.html", page)] {
            let url = folder.appendingPathComponent(name)
            do { try Data(text.utf8).write(to: url, options: .atomic) }
            catch { throw PleuraError(file: url.path, "cannot write the report (\(error.localizedDescription))") }
        }
        print(SafeText.sanitize("wrote \(folder.appendingPathComponent("index.html").path) and numbers.csv: "
                                + "\(study.overall.count) ratings by \(study.raters.count) raters"))
    }
}
