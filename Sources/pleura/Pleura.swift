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
            ReviewCommand.self,
            RenderCommand.self,
            DoctorCommand.self,
            BenchCommand.self,
            ProbeCommand.self,
            FrameCommand.self,
            DecodeAllCommand.self,
            PhantomCommand.self,
            ExamsCommand.self,
            AddCommand.self,
            ImportCommand.self,
            ExportCommand.self,
            StatsCommand.self,
            StoreTortureCommand.self,
            HeatmapCommand.self,
            InferCommand.self,
            StoreCommand.self,
            RatingsCommand.self,
            ReportCommand.self,
        ]
    )
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print Pleura's version.")
    func run() throws { print(PleuraVersion.string) }
}

/// Runs the command line; a ``PleuraError`` becomes the one line `pleura: FILE: reason` on stderr
/// and exit code 1; a command-line mistake becomes the one line `pleura: what is wrong (see
/// `pleura CMD --help`)` and exit code 64 (EX_USAGE, ArgumentParser's own code); `--help` and
/// `help CMD` print the full help. Arguments are read as the bytes the kernel passed
/// (``FileName/arguments()``), so a file name that is not UTF-8 still opens.
@main
enum Main {
    static func main() {
        let arguments = Array(FileName.arguments().dropFirst())
        do {
            var command = try Pleura.parseAsRoot(arguments)
            try command.run()
        } catch let error as PleuraError {
            reportAndExit(error)
        } catch let error as ExitCode {
            exit(error.rawValue)
        } catch {
            let code = Pleura.exitCode(for: error)
            // Help, version and clean exits keep ArgumentParser's full output.
            if code == .success { Pleura.exit(withError: error) }
            FileHandle.standardError.write(Data(("pleura: " + usageErrorLine(error, arguments: arguments) + "\n").utf8))
            exit(code.rawValue == 0 ? 64 : code.rawValue)
        }
    }

    /// ArgumentParser's message (first line, without its `Error: ` prefix), sanitised, with the
    /// case it explains badly spelt out: a negative number after an option is read as an option
    /// ("Missing value for '--index <n>'"), and the help hint of the subcommand that was meant.
    static func usageErrorLine(_ error: Error, arguments: [String]) -> String {
        var message = Pleura.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        if message.hasPrefix("Error: ") { message.removeFirst(7) }
        if message.hasPrefix("Missing value for '") {
            for (i, argument) in arguments.enumerated() where argument.hasPrefix("--") && i + 1 < arguments.count {
                let next = arguments[i + 1]
                if next.count > 1, next.hasPrefix("-"), next.dropFirst().allSatisfy({ $0.isNumber || $0 == "." }),
                   message.contains("'\(argument)") {
                    message = "\(argument) \(next): negative values are not accepted here (frames, counts and sizes start at 0)"
                    break
                }
            }
        }
        let known = Set(Pleura.configuration.subcommands.map { $0._commandName })
        let sub = arguments.first(where: { known.contains($0) })
        return SafeText.sanitize(message) + " (see `pleura \(sub.map { $0 + " " } ?? "")--help`)"
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
