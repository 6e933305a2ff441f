import ArgumentParser
import Foundation
import PleuraCore
import PleuraMedia

/// `pleura probe FILE...`: one JSON object per line per readable file; each unreadable file is
/// reported on stderr as `pleura: FILE: reason` and the rest still run (exit status 1 if any failed).
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Print facts about media files, one JSON object per line.",
        discussion: """
        Fields: path, kind (video|image), codec, width, height, fps, frames (exactly what FFmpeg \
        decodes), sha256 (of the file's bytes); for DICOM also dicom (transfer syntax, photometric, \
        modality, manufacturer, model, ultrasound regions; never a patient attribute). The first probe of a file decodes it once to build \
        its frame index (cached by content hash); later probes only hash the file.
        """)

    @Argument(help: "Video, image or DICOM files, or DICOMDIR folders (each referenced image is probed).")
    var files: [String]

    func run() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var failed = 0
        var expanded: [String] = []
        for file in files {
            do { expanded += try MediaReader.mediaPaths(file) } catch let error as PleuraError {
                reportError(error)
                failed += 1
            }
        }
        for file in expanded {
            do {
                let (info, warnings) = try MediaReader.probeWithWarnings(path: file)
                print(SafeText.terminalSafeJSON(String(decoding: try encoder.encode(info), as: UTF8.self)))
                for warning in warnings {
                    reportError(PleuraError(file: file, "warning: " + warning))
                }
            } catch let error as PleuraError {
                reportError(error)
                failed += 1
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
