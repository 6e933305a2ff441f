import ArgumentParser
import Foundation
import PleuraCore
import PleuraStore

/// `pleura export --store DB --format csv|jsonl|labelstudio [--kind ...] -o FILE [--root DIR]`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export current labels, ratings, reviews or predictions.",
        discussion: """
            csv writes the canonical label CSV (media,frame,annotator,a_lines,b1_lines,b2_lines,\
            consolidation,severity,quality,note) or rating CSV (media,frame,annotator,model,method,\
            target,rating,comment,layer,heatmap_sha256,trial,slot,scale,colormap,opacity,threshold,\
            class_guess,visible,highlighted,better,seconds: every provenance field and answer, one row \
            per rater and map); rows are in a fixed order, so exporting, importing into an \
            empty store and exporting again gives the same bytes. jsonl writes one JSON object per \
            line (ratings with the rating CSV's columns as keys). labelstudio writes Label Studio tasks \
            (labels with predictions, or ratings: one task per rated map, one annotation per rater). Media paths are relative to --root (default: the current directory). \
            The output file is replaced only when the export succeeded.
            """)

    @Option(help: "Store database.")
    var store: String

    @Option(help: "csv, jsonl or labelstudio.")
    var format: ExchangeFormat

    @Option(help: "labels, ratings, reviews or predictions.")
    var kind: ExportKind = .labels

    @Option(name: [.customShort("o"), .long], help: "Output file ('-' for standard output: on a terminal, control characters in notes and names are shown as '?' or \\u escapes).")
    var output: String

    @Option(help: "Folder media paths are written relative to.")
    var root: String?

    @Option(help: "Only frame-level or only video-level labels.")
    var level: ItemLevel?

    func run() throws {
        let db = try openExistingStore(store, next: "create one with `pleura add` (clips) or `pleura import` (labels)")
        let rootPath = root ?? FileManager.default.currentDirectoryPath
        if format == .pocus { throw PleuraError(file: output, "pocus is an import-only format: export csv, jsonl or labelstudio") }
        if format == .labelstudio && kind != .labels && kind != .ratings {
            throw PleuraError(file: output, "Label Studio export holds labels (and their predictions) or ratings: use csv/jsonl for \(kind.rawValue)")
        }
        if output == "-" {
            // On a terminal the text is made safe (a note's ESC or U+202E would act on it);
            // into a pipe or file it stays exact.
            let terminal: TextSink.Terminal? = isatty(STDOUT_FILENO) == 0 ? nil : format == .csv ? .text : .json
            let sink = TextSink(handle: FileHandle.standardOutput, terminal: terminal)
            try write(db, root: rootPath, to: sink)
            return
        }
        // Write beside the target, then rename: a failed export never leaves half a file.
        let target = URL(fileURLWithPath: output).standardizedFileURL
        let temp = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(getpid()).tmp")
        guard FileManager.default.createFile(atPath: temp.path, contents: nil),
              let handle = FileHandle(forWritingAtPath: temp.path) else {
            throw PleuraError(file: output, "cannot write here (does the folder exist, and may you write to it?)")
        }
        do {
            try write(db, root: rootPath, to: TextSink(handle: handle))
            try handle.synchronize()
            try handle.close()
            // rename(2) replaces the old file atomically (Foundation's replaceItemAt loses it on
            // Linux when it fails half-way).
            if rename(temp.path, target.path) != 0 {
                throw PleuraError(file: output, "cannot replace the file: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temp)
            throw error
        }
    }

    private func write(_ db: AnnotationStore, root: String, to sink: TextSink) throws {
        switch (kind, format) {
        case (.labels, .csv): try db.exportLabelCSV(root: root, level: level, to: sink)
        case (.labels, .jsonl): try db.exportLabelJSONLines(root: root, level: level, to: sink)
        case (.labels, .labelstudio): try db.exportLabelStudio(root: root, level: level, to: sink)
        case (.ratings, .csv): try db.exportRatingCSV(root: root, to: sink)
        case (.ratings, .labelstudio): try db.exportRatingLabelStudio(root: root, to: sink)
        case (.ratings, _): try db.exportRatingJSONLines(root: root, to: sink)
        case (.reviews, _): try db.exportReviews(root: root, format: format, to: sink)
        case (.predictions, _): try db.exportPredictions(root: root, format: format, to: sink)
        default: break
        }
    }
}
