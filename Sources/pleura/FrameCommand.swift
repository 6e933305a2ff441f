import ArgumentParser
import Foundation
import PleuraCore
import PleuraMedia

/// `pleura frame FILE --index N -o OUT.png`: writes exactly frame N (0-based, display order).
struct FrameCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frame",
        abstract: "Write one frame of a video (or an image) as a PNG file.",
        discussion: """
        Frame N is the N-th picture FFmpeg decodes (0-based, display order), converted to RGB the \
        way `ffmpeg -i FILE -vf select=eq(n\\,N) -vframes 1 -pix_fmt rgb24 OUT.png` does.
        """)

    @Argument(help: "Video or image file.")
    var file: String
    @Option(name: .long, help: "Frame number, 0-based.")
    var index: Int = 0
    @Option(name: .shortAndLong, help: "Output PNG file.")
    var output: String
    @Flag(help: "Write 8-bit grey instead of RGB.")
    var gray = false

    func run() throws {
        let reader = try MediaReader(path: file, cacheBytes: 0)
        let image = try reader.frame(index, format: gray ? .gray8 : .rgb24)
        try ImageFile.writePNG(image, to: output)
    }
}
