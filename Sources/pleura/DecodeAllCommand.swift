import ArgumentParser
import Foundation
import PleuraCore
import PleuraMedia

/// `pleura decode-all FILE`: decodes every frame once, in order, through ``MediaReader``; the
/// whole-process counterpart of `ffmpeg -threads 1 -i FILE -f null -` for the media benchmark
/// (Benchmarks/media.sh). Hidden from help: it is a measuring tool, not a user command.
struct DecodeAllCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode-all",
        abstract: "Decode every frame of a file once (benchmark helper).",
        discussion: """
        --pixels none decodes only (what `ffmpeg -f null -` does: its wrapped_avframe encoder \
        converts nothing); rgb24/gray8 also convert every frame as `pleura frame` does, the \
        counterpart of `ffmpeg -pix_fmt rgb24 -f null -`. Prints the frame count.
        """,
        shouldDisplay: false)

    enum Pixels: String, ExpressibleByArgument { case none, gray8, rgb24 }

    @Argument(help: "Video or image file.")
    var file: String
    @Option(help: "Decoder threads (1 = like ffmpeg -threads 1).")
    var threads: Int = 1
    @Option(help: "none | gray8 | rgb24")
    var pixels: Pixels = .none

    func run() throws {
        let reader = try MediaReader(path: file, cacheBytes: 0, threads: threads)
        let format: PixelImage.Format? = pixels == .none ? nil : (pixels == .rgb24 ? .rgb24 : .gray8)
        var count = 0
        try reader.forEachFrame(format: format) { _, _ in count += 1 }
        print(count)
    }
}
