import ArgumentParser
import Foundation
import PleuraCore
import PleuraStore

extension ReviewSettings.Level: ExpressibleByArgument {}
extension ReviewField: ExpressibleByArgument {}

/// `pleura review SESSION [--list [--json]]`: the trainee's disagreement review.
struct ReviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Review disagreements (model versus reference, human versus human) of a review session in the terminal, or list them.",
        discussion: """
            The queue holds items where the reference (an annotator, or the labels imported with \
            --as NAME) and a model disagree — severity differs, or a finding both answered; the \
            model's b_lines against the reference's B1 or B2 — and items where two humans disagree, \
            at frame and video level (a clip's frame predictions combined by the session's \
            aggregation rule). Confident model errors (the model ≥ 80 % sure of a wrong answer) come \
            first, then the largest disagreements. Predictions on files the model's card lists as \
            training files are "seen in training": left out unless --include-training (then marked). \
            --list prints the queue instead of opening the screen (--json: one object per line).
            """)

    @Argument(help: "Session file with mode = \"review\" (Sessions/*.toml).")
    var session: String

    @Flag(help: "Print the queue instead of opening the screen.")
    var list = false

    @Flag(help: "With --list: one JSON object per line (terminal-safe).")
    var json = false

    @Option(help: "Reference annotator (default: the session's, else the store's only reference).")
    var reference: String?

    @Option(help: "frame, video or both (default: the session's).")
    var level: ReviewSettings.Level?

    @Option(help: "Only items disagreeing on this field: severity, a_lines, b_lines, b1_lines, b2_lines, consolidation.")
    var finding: ReviewField?

    @Option(help: "Only items whose reference (or a human of the pair) gives this severity (0–3).")
    var severity: Int?

    @Option(name: .customLong("class"), help: "Only items the model puts in this class (its default head, e.g. covid).")
    var className: String?

    @Option(help: "model (model versus reference), human (human versus human) or an annotator name.")
    var source: String?

    @Option(help: "Folder media paths are written relative to (default: the current directory).")
    var root: String?

    @OptionGroup var models: ModelAnswerArguments
    @OptionGroup var options: TUIOptions

    func run() throws {
        let url = URL(fileURLWithPath: session).standardizedFileURL
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PleuraError(file: session, "no such session file (a review session has mode = \"review\" and a [review] table; see the README)")
        }
        let loaded = try Session.load(url)
        guard loaded.mode == .review else {
            throw PleuraError(file: url.path, "is a \(loaded.mode.rawValue) session; open it with pleura \(loaded.mode.rawValue) or pleura run")
        }
        guard list else {
            try TUILauncher.launch(sessionPath: session, requiredMode: .review, options: options, review: self)
            return
        }
        let storePath = options.store ?? loaded.store.path
        let store = try openExistingStore(storePath, next: "a review needs labels (`pleura import`) and predictions (`pleura infer`) in a store")
        let queue = try store.reviewQueue(try queueOptions(loaded), root: root ?? FileManager.default.currentDirectoryPath)
        if json {
            for e in queue { print(e.json) }
            return
        }
        print(Self.table(queue))
    }

    /// The session's `[review]` settings with the command line's on top.
    func settings(_ session: Session) throws -> ReviewSettings {
        var s = session.review ?? ReviewSettings()
        if let reference { s.reference = reference }
        if let level { s.level = level }
        if let finding { s.field = finding }
        if let severity {
            guard (0...3).contains(severity) else { throw PleuraError(file: "--severity", "\(severity) must be 0, 1, 2 or 3") }
            s.severity = severity
        }
        if let className { s.className = className }
        if let source { s.source = ReviewSettings.Source(source) }
        if let a = models.aggregation { s.aggregation = a }
        if models.includeTraining { s.includeTraining = true }
        return s
    }

    func queueOptions(_ session: Session) throws -> ReviewQueueOptions {
        ReviewQueueOptions(try settings(session), trainingFiles: try models.trainingFiles(),
                           excluding: [options.annotator ?? session.annotator])
    }

    static func table(_ queue: [ReviewQueueEntry]) -> String {
        guard !queue.isEmpty else { return "no disagreements: the queue is empty" }
        let rows = queue.enumerated().map { i, e -> [String] in
            [String(i + 1), e.level.rawValue, e.media, e.item.frame.map(String.init) ?? "video",
             e.kind == .modelVsReference ? "\(e.first) vs model \(e.second.prefix(8))" : "\(e.first) vs \(e.second)",
             e.differences.map { "\($0.field.rawValue) \($0.first)→\($0.second)" }.joined(separator: ", "),
             e.confidence.map { String(format: "%.2f", $0) } ?? "",
             [e.confidentError ? "confident error" : nil, e.seenInTraining ? "seen in training" : nil].compactMap { $0 }.joined(separator: ", ")]
        }
        let out = StatsCommand.table(["#", "level", "media", "frame", "who", "disagree on (first→second)", "model p", "marks"], rows)
        return out.split(separator: "\n", omittingEmptySubsequences: false).map { SafeText.sanitize(String($0)) }.joined(separator: "\n")
            + "\n\(queue.count) items"
    }
}
