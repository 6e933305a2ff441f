import ArgumentParser
import Foundation
import PleuraCore

/// `pleura`: the root command. Subcommands live one per file in this folder.
struct Pleura: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pleura",
        abstract: "Lung-ultrasound annotation and explainability review in the terminal.",
        subcommands: [
            VersionCommand.self,
            RunCommand.self,
            LabelCommand.self,
            RateCommand.self,
            RenderCommand.self,
            DoctorCommand.self,
            BenchCommand.self,
            ProbeCommand.self,
            FrameCommand.self,
            DecodeAllCommand.self,
            PhantomCommand.self,
            AddCommand.self,
            ImportCommand.self,
            ExportCommand.self,
            StatsCommand.self,
            StoreTortureCommand.self,
            HeatmapCommand.self,
            InferCommand.self,
        ]
    )
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print Pleura's version.")
    func run() throws { print(PleuraVersion.string) }
}

/// Runs the command line; a ``PleuraError`` becomes the one line `pleura: FILE: reason` on stderr
/// and exit code 1, everything else goes through ArgumentParser's own reporting.
@main
enum Main {
    static func main() {
        do {
            var command = try Pleura.parseAsRoot()
            try command.run()
        } catch let error as PleuraError {
            reportAndExit(error)
        } catch let error as ExitCode {
            exit(error.rawValue)
        } catch {
            Pleura.exit(withError: error)
        }
    }
}

/// Writes `pleura: <error>` to stderr (sanitised) and exits with status 1.
func reportAndExit(_ error: PleuraError, status: Int32 = 1) -> Never {
    reportError(error)
    exit(status)
}

/// Writes `pleura: <error>` to stderr without exiting (for commands that go on with the rest).
func reportError(_ error: PleuraError) {
    FileHandle.standardError.write(Data(("pleura: " + error.description + "\n").utf8))
}
