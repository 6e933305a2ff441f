import ArgumentParser
import Foundation
import PleuraCore
import PleuraPhantom

/// `pleura phantom -o DIR [--count N] [--seed S]`: synthetic LUS clips with per-frame ground truth.
struct PhantomCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phantom",
        abstract: "Write synthetic lung-ultrasound clips and their ground truth (labels.csv).",
        discussion: """
            Makes H.264 MP4 clips (\(PhantomInfo.width)×\(PhantomInfo.height), \(PhantomInfo.fps) fps, \
            1–2 breaths each) of a convex-probe lung scan: chest wall and ribs with their shadows, a \
            sliding pleural line, A-lines, separate and confluent B-lines and consolidations that come \
            and go with breathing. labels.csv holds the truth for every frame and every clip in the \
            canonical label CSV (annotator 'phantom'), media paths relative to DIR. Clips cycle \
            through eight clinical pictures; \(PhantomInfo.countCoveringEverything) or more cover every \
            finding and every severity 0–3. The same seed always gives the same bytes.
            """)

    @Option(name: [.customShort("o"), .customLong("output")], help: "Folder for the clips and labels.csv (created when missing).")
    var output: String

    @Option(help: "How many clips (1–1000).")
    var count: Int = 8

    @Option(help: "Seed of the random pictures; the same seed gives the same files.")
    var seed: UInt64 = 1

    func validate() throws {
        guard (1...1000).contains(count) else { throw ValidationError("--count must be between 1 and 1000") }
    }

    func run() throws {
        let folder = URL(fileURLWithPath: output)
        let start = Measure.now()
        let interactive = isatty(2) == 1
        let urls = try PhantomGenerator(seed: seed).makeClips(count: count, into: folder) { done, total in
            let line = "phantom: \(done)/\(total) clips (\(PhantomInfo.clipFileName(done - 1)))"
            FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[K" + line + (done == total ? "\n" : "") : line + "\n").utf8))
        }
        let seconds = Measure.now() - start
        print("wrote \(urls.count) clip\(urls.count == 1 ? "" : "s") and \(PhantomInfo.labelsFileName) to \(SafeText.sanitize(folder.path)) in \(String(format: "%.1f", seconds)) s")
    }
}
