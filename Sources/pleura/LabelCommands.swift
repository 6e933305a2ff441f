import ArgumentParser
import Foundation
import PleuraCore
import PleuraMedia
import PleuraPhantom
import PleuraRender
import PleuraStore
import PleuraTUI

/// Options every TUI command shares.
struct TUIOptions: ParsableArguments {
    @Option(help: "The store (SQLite file) to use instead of the session's.")
    var store: String?
    @Option(help: "Keymap: default, vim, keypad or a .toml path (default: the session's).")
    var keymap: String?
    @Option(help: "Annotator name to record (default: the session's, else the login user).")
    var annotator: String?
    @Option(help: "Images: auto (probe the terminal), sixel, halfblock or none.")
    var graphics: String = "auto"
    @Option(name: .customLong("link"), help: ArgumentHelp(
        "The link to the terminal in Mbit/s (e.g. 5 over a slow SSH link): playback sizes its frames to it instead of measuring it (default: the session's link_mbit, else measured).",
        valueName: "MBIT"))
    var linkMegabits: Double?
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Open a session in the terminal; its mode (label, rate, review) comes from the file.",
        discussion: "Without a session, opens Sessions/demo.toml: phantom clips Pleura makes itself on first use.")

    @Argument(help: "Session file (Sessions/*.toml).")
    var session: String = "Sessions/demo.toml"
    @OptionGroup var options: TUIOptions

    func run() throws { try TUILauncher.launch(sessionPath: session, requiredMode: nil, options: options) }
}

struct LabelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Label frames and clips of a session in the terminal (ICLUS findings, severity 0–3, quality, notes).",
        discussion: "Every change is committed to the store before the screen shows it; ? lists the keys.")

    @Argument(help: "Session file (Sessions/*.toml).")
    var session: String
    @OptionGroup var options: TUIOptions

    func run() throws { try TUILauncher.launch(sessionPath: session, requiredMode: .label, options: options) }
}

struct RateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rate",
        abstract: "Rate model heatmaps of a rate session in the terminal (blinded, Born-style scale, paired trials).",
        discussion: "Items come in an order of the rater's own (session seed + rater name); every answer is committed before the screen shows it; ? lists the keys.")

    @Argument(help: "Session file with mode = \"rate\" (Sessions/*.toml).")
    var session: String
    @OptionGroup var options: TUIOptions

    func run() throws { try TUILauncher.launch(sessionPath: session, requiredMode: .rate, options: options) }
}

/// Everything between the command line and the screen: read and check the session and keymap,
/// find the media, open the store, then hand the terminal to PleuraTUI. Every error before
/// ``ShellApp/run(_:makeEncoder:)`` is printed as `pleura: FILE[:LINE]: reason` with the terminal
/// untouched.
enum TUILauncher {
    static func launch(sessionPath: String, requiredMode: Session.Mode?, options: TUIOptions, review: ReviewCommand? = nil) throws {
        let url = URL(fileURLWithPath: sessionPath).standardizedFileURL
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PleuraError(file: sessionPath, "no such session file (sessions live in Sessions/*.toml; try Sessions/demo.toml)")
        }
        let session = try Session.load(url)
        let mode = requiredMode ?? session.mode
        if let requiredMode, session.mode != requiredMode {
            throw PleuraError(file: url.path, "is a \(session.mode.rawValue) session; open it with pleura \(session.mode.rawValue) or pleura run")
        }
        var graphics: GraphicsMode? = nil
        if options.graphics != "auto" {
            guard let g = GraphicsMode(rawValue: options.graphics) else {
                throw PleuraError(file: "--graphics", "'\(options.graphics)' must be auto, sixel, halfblock or none")
            }
            graphics = g
        }
        let keymap = try Keymap.resolve(options.keymap ?? session.keymap, sessionFile: url)
        let shell: Shell
        switch mode {
        case .rate: shell = try prepareRating(session: session, keymap: keymap, storePath: options.store, annotator: options.annotator)
        case .review: shell = try prepareReview(session: session, keymap: keymap, options: options, command: review)
        case .label: shell = try prepare(session: session, keymap: keymap, storePath: options.store, annotator: options.annotator)
        }
        if let link = options.linkMegabits, !(link > 0 && link <= 100_000) {
            throw PleuraError(file: "--link", "must be the link's speed in Mbit/s, a number above 0 (e.g. 10)")
        }
        let ending = try ShellApp.run(shell, linkMegabits: options.linkMegabits ?? session.linkMegabits) { fd in
            TerminalProbe.probe(fd: fd).paneEncoder(override: graphics)
        }
        let code: Int32
        if case .signal(let sig) = ending { code = 128 + sig } else { code = 0 }
        if shell.modelStatus != .notLoaded || mode != .label {
            // libtorch was loaded (or is still loading on another thread, which cannot be
            // stopped); exit's static destructors then race with it (seen: "malloc_consolidate():
            // unaligned fastbin chunk", a C++ terminate, and now and then a death by signal right
            // after q). Every change is already committed and the terminal restored, so leave
            // without running them.
            fflush(nil)
            _exit(code)
        }
        if code != 0 { exit(code) }
    }

    /// Builds the shell and its label mode for a label session (also used by the TUI benchmarks).
    static func prepare(session: Session, keymap: Keymap, storePath: String?, annotator: String?) throws -> Shell {
        var session = session
        if let annotator { session.annotator = annotator }
        let media = try mediaFiles(session)
        let storeURL = storePath.map { URL(fileURLWithPath: $0).standardizedFileURL } ?? session.store
        try? FileManager.default.createDirectory(at: storeURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let store = try AnnotationStore.open(path: storeURL.path)
        let backend = try StoreLabelBackend(store: store, annotator: session.annotator, sessionName: session.name)
        // Exams and zones (and Hu's frame classes, scored per exam): placements from the file-name
        // pattern are recorded as each clip opens (LabelMode.clipOpened).
        let exams = (session.exam != nil || session.schema.huFrameClasses)
            ? StoreExamBackend(settings: session.exam ?? ExamSettings(zoneProtocol: LungZoneProtocol.named("iclus14")!), labels: backend) : nil
        let shell = Shell(session: session, keymap: keymap, media: media, mode: LabelMode(backend: backend, exams: exams),
                          loadExplainer: { try ModelExplainer.load(for: session) }) { url in
            let clip = try MediaClipReader(url: url)
            let info = clip.info
            try backend.register(sha256: info.sha256, path: url.path, kind: info.kind, width: info.width,
                                 height: info.height, fps: info.fps, frames: info.frames)
            return clip
        }
        try shell.start()
        return shell
    }

    /// Builds the shell and its rate mode: opens every clip (the queue is balanced over the
    /// model's classes, so each item's class is needed up front) and loads the session's models,
    /// with progress on stderr, before the terminal is touched. Also used by the TUI benchmarks.
    static func prepareRating(session: Session, keymap: Keymap, storePath: String?, annotator: String?,
                              progress: Bool = true) throws -> Shell {
        var session = session
        if let annotator { session.annotator = annotator }
        guard let settings = session.rate else { throw PleuraError(file: session.file.path, "is not a rate session") }
        // The rater's own order (seed + name) replaces the session's clip order.
        var sequential = session
        sequential.order = .sequential
        var files = try mediaFiles(sequential)
        files.sort { $0.path < $1.path }
        let storeURL = storePath.map { URL(fileURLWithPath: $0).standardizedFileURL } ?? session.store
        try? FileManager.default.createDirectory(at: storeURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let store = try AnnotationStore.open(path: storeURL.path)
        let backend = try StoreRatingBackend(store: store, rater: session.annotator, sessionName: session.name)
        func note(_ s: String) { if progress { FileHandle.standardError.write(Data("pleura: \(s)\n".utf8)) } }
        var readers: [URL: MediaClipReader] = [:]
        var clips: [(sha256: String, reader: ClipReader)] = []
        for url in files {
            let clip = try MediaClipReader(url: url)
            let info = clip.info
            try backend.register(sha256: info.sha256, path: url.path, kind: info.kind, width: info.width,
                                 height: info.height, fps: info.fps, frames: info.frames)
            readers[url] = clip
            clips.append((info.sha256, clip))
        }
        var models: [String: RatingModel] = [:]
        for path in Set(settings.models) {
            note("loading model \(path == "embedded" ? "(embedded)" : SafeText.sanitize(path))")
            models[path] = try RuntimeRatingModel(path: path, head: settings.head)
        }
        note("ordering \(clips.count) clips for \(SafeText.sanitize(session.annotator))")
        let mode = try RateMode(settings: settings, session: session, clips: clips, backend: backend, models: models,
                                rater: session.annotator)
        if mode.unreferenced > 0, case .reference(let who) = settings.target {
            note("\(mode.unreferenced) of \(mode.unreferenced + mode.items.count) items left out: \(SafeText.sanitize(who)) has not labelled them")
        }
        let shell = Shell(session: session, keymap: keymap, media: files, mode: mode) { url in
            guard let r = readers[url] else { throw PleuraError(file: url.path, "not one of the session's clips") }
            return r
        }
        try mode.start(shell)
        return shell
    }

    /// The session's media files, in session order; phantom sessions get (and on first use
    /// make, with progress on stderr) the phantom clips in the cache.
    static func mediaFiles(_ session: Session) throws -> [URL] {
        switch session.media {
        // A DICOMDIR folder in the session's media stands for the images it references.
        case .files: return try session.mediaFiles().flatMap { url in
            try MediaReader.mediaPaths(url.path).map { URL(fileURLWithPath: $0) }
        }
        case .phantom(let count, let seed):
            var announced = false
            let folder = try DemoMedia.ensureClips(count: count, seed: seed) { done, total in
                if !announced {
                    FileHandle.standardError.write(Data("pleura: making \(total) phantom clips (once; they are kept in \(AppPaths.cacheDirectory.path))\n".utf8))
                    announced = true
                }
                FileHandle.standardError.write(Data("  clip \(done)/\(total)\n".utf8))
            }
            let clips = (0..<count).map { folder.appendingPathComponent(PhantomInfo.clipFileName($0)) }
            return session.ordered(clips)
        }
    }
}
