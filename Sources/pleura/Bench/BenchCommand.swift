import ArgumentParser
import Foundation
import PleuraCore

/// A group of benchmarks of one area (media, render, store, TUI, model). Each lives in its own
/// file in this folder (`extension BenchmarkSuite { static let media = ... }`) and is listed in
/// ``BenchCommand/suites``.
struct BenchmarkSuite: Sendable {
    /// Short name used by `pleura bench --suite NAME`.
    var name: String
    /// What it measures, one line.
    var summary: String
    /// Runs the measurements; long ones call `context.progress` so the user sees them move.
    var run: @Sendable (BenchContext) throws -> [BenchResult]
}

/// What every suite gets: where the real data is, a scratch folder, and a progress printer.
struct BenchContext {
    /// ../shared/data/pocus or $PLEURA_POCUS, when present.
    var pocusDirectory: URL?
    /// A scratch folder removed after the run.
    var scratch: URL
    /// The running `pleura` executable (for whole-process timings).
    var pleuraExecutable: URL
    var quick: Bool

    func progress(_ message: String) {
        FileHandle.standardError.write(Data(("  … " + SafeText.sanitize(message) + "\n").utf8))
    }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run the performance suite and print a table of figures beside their targets.")

    /// Every suite, in the order they run.
    static let suites: [BenchmarkSuite] = [
        .media,
        .dicom,
        .store,
        .postgres,
        .render,
        .model,
        .tui,
        .phantom,
        .batch,
    ]

    @Option(name: .customLong("suite"), help: "Run only these suites (repeatable).")
    var only: [String] = []
    @Flag(help: "Print JSON lines instead of a table.")
    var json = false
    @Flag(help: "Fewer repetitions, for a smoke run.")
    var quick = false
    @Option(help: "POCUS data folder (default: ../shared/data/pocus or $PLEURA_POCUS).")
    var pocus: String?

    func run() throws {
        let fm = FileManager.default
        let scratch = fm.temporaryDirectory.appendingPathComponent("pleura-bench-\(getpid())")
        try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
        // PLEURA_BENCH_KEEP=1 keeps the scratch folder (the seeded stores, the exported CSV) for
        // profiling a figure outside the bench.
        let keep = ProcessInfo.processInfo.environment["PLEURA_BENCH_KEEP"] == "1"
        defer {
            if keep { FileHandle.standardError.write(Data("bench scratch kept: \(scratch.path)\n".utf8)) }
            else { try? fm.removeItem(at: scratch) }
        }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let context = BenchContext(pocusDirectory: Self.findPocus(pocus), scratch: scratch,
                                   pleuraExecutable: exe, quick: quick)
        let selected = Self.suites.filter { only.isEmpty || only.contains($0.name) }
        if selected.isEmpty {
            throw PleuraError(file: nil, "no benchmark suite named \(only.joined(separator: ", ")); suites: "
                              + Self.suites.map(\.name).joined(separator: ", "))
        }
        var all: [BenchResult] = []
        for suite in selected {
            FileHandle.standardError.write(Data("bench \(suite.name): \(suite.summary)\n".utf8))
            all += try suite.run(context)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for r in all { print(String(decoding: try encoder.encode(r), as: UTF8.self)) }
        } else {
            print(Self.table(all))
        }
    }

    static func findPocus(_ explicit: String?) -> URL? {
        let env = ProcessInfo.processInfo.environment["PLEURA_POCUS"]
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        // <repo>/.build/release/pleura → <repo>/../shared/data/pocus
        let beside = exe.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data/pocus").path
        let cwd = FileManager.default.currentDirectoryPath + "/../shared/data/pocus"
        for case let p? in [explicit, env, cwd, beside] where FileManager.default.fileExists(atPath: p + "/manifest.csv") {
            return URL(fileURLWithPath: p).standardizedFileURL
        }
        return nil
    }

    /// A plain-text table: suite, figure, value, target, verdict.
    static func table(_ rows: [BenchResult]) -> String {
        func fmt(_ v: Double) -> String {
            if v == v.rounded() && abs(v) < 1e9 { return String(Int(v)) }
            return abs(v) >= 100 ? String(format: "%.1f", v) : String(format: "%.3g", v)
        }
        let header = ["suite", "figure", "value", "target", "ok"]
        let body = rows.map { r in
            [r.suite, r.name + (r.note.map { " (\($0))" } ?? ""), fmt(r.value) + " " + r.unit,
             r.target ?? "", r.pass.map { $0 ? "yes" : "NO" } ?? ""]
        }
        var widths = header.map(\.count)
        for row in body { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
                + body.map(line)).joined(separator: "\n")
    }
}
