import ArgumentParser
import Foundation
import PleuraCore
import PleuraStore

/// `pleura import FILE --store DB [--format ...] [--as NAME] [--root DIR]`.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import labels, ratings or predictions into a store (all or nothing).",
        discussion: """
            Formats: csv (the canonical label CSV, or the rating CSV — told apart by the header), \
            jsonl (as `pleura export --format jsonl` writes), labelstudio (a JSON array of Label \
            Studio tasks: annotations become labels, predictions are stored), pocus (the POCUS \
            data set's manifest.csv: video-level severity and findings as annotator `reference`; \
            its files are registered too). The format defaults from the file name. Media paths \
            are relative to --root (default: the current directory; for pocus: the manifest's \
            folder). Any bad row stops the import with `FILE: line N: what is wrong` and nothing \
            from the file is recorded. Rows set an annotator's labels of an item to exactly the \
            row: importing the same file twice changes nothing.
            """)

    @Argument(help: "The file to import.")
    var file: String

    @Option(help: "Store database (created when missing).")
    var store: String

    @Option(help: "csv, jsonl, labelstudio or pocus (default: from the file name).")
    var format: ExchangeFormat?

    @Option(name: .customLong("as"), help: "Record every row as this annotator.")
    var annotator: String?

    @Option(help: "Folder media paths are relative to.")
    var root: String?

    func run() throws {
        // By the name's bytes: a file name need not be UTF-8 (FileName).
        // (The bytes go out of scope at once: a 300,000-row file is not held twice.)
        let decoded: String? = try { String(validating: try FileName.contents(file), as: UTF8.self) }()
        guard let text = decoded else {
            throw PleuraError(file: file, "not UTF-8 text (save it as UTF-8 and try again)")
        }
        let chosen = format ?? Self.guessFormat(file)
        let db = try AnnotationStore.open(path: store)
        let summary: ImportSummary
        switch chosen {
        case .csv:
            let firstLine = text.prefix(4096).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).first.map(String.init) ?? ""
            let header = (try? CSV.parse(firstLine, file: file))?.first?.fields ?? []
            if header == RatingRecord.header || RatingRecord.olderHeaders.contains(header) {
                summary = try db.importRatingCSV(text: text, file: file, root: root ?? ".", as: annotator)
            } else {
                summary = try db.importLabelCSV(text: text, file: file, root: root ?? ".", as: annotator)
            }
        case .jsonl:
            summary = try db.importJSONLines(text: text, file: file, root: root ?? ".", as: annotator)
        case .labelstudio:
            summary = try db.importLabelStudio(text: text, file: file, root: root ?? ".", as: annotator)
        case .pocus:
            let folder = root ?? (URL(fileURLWithPath: file).standardizedFileURL.deletingLastPathComponent().path)
            summary = try db.importPocusManifest(text: text, file: file, root: folder, as: annotator ?? "reference")
        }
        var parts = ["\(summary.rows) rows", "\(summary.events) changes recorded"]
        if summary.predictions > 0 { parts.append("\(summary.predictions) predictions") }
        if summary.mediaAdded > 0 { parts.append("\(summary.mediaAdded) media registered") }
        print(SafeText.sanitize("\(file): " + parts.joined(separator: ", ")
                                + (summary.annotators.isEmpty ? "" : " (annotators: \(summary.annotators.joined(separator: ", ")))")))
    }

    static func guessFormat(_ file: String) -> ExchangeFormat {
        let name = (file as NSString).lastPathComponent.lowercased()
        if name.hasSuffix(".jsonl") || name.hasSuffix(".ndjson") { return .jsonl }
        if name.hasSuffix(".json") { return .labelstudio }
        if name == "manifest.csv" { return .pocus }
        return .csv
    }
}

extension ExchangeFormat: ExpressibleByArgument {}
extension ExportKind: ExpressibleByArgument {}
extension ItemLevel: ExpressibleByArgument {}
