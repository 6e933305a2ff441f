import Foundation
import PleuraCore
@_spi(Benchmark) import PleuraStore

extension BenchmarkSuite {
    /// The store at the size the issue names: 1,000,000 label events over 60,000 frames × 5
    /// annotators (600 clips × 100 frames). Current labels of one frame in-process; `pleura
    /// stats` and `pleura export` as whole processes, each with its own peak RSS (wait4).
    static let store = BenchmarkSuite(
        name: "store",
        summary: "annotation store: 1,000,000 label events (60,000 frames × 5 annotators)",
        run: { context in
            let media = context.quick ? 60 : 600
            let events = context.quick ? 100_000 : 1_000_000
            let path = context.scratch.appendingPathComponent("bench-store.sqlite").path
            var results: [BenchResult] = []
            func add(_ name: String, _ value: Double, _ unit: String, target: String? = nil, pass: Bool? = nil, note: String? = nil) {
                results.append(BenchResult(suite: "store", name: name, value: value, unit: unit, target: target, pass: pass, note: note))
            }

            context.progress("building a store with \(events) label events (batched inserts)")
            let store = try AnnotationStore.open(path: path)
            let buildStart = Measure.now()
            let written = try store.seedSyntheticLabels(media: media, framesPerMedia: 100, annotators: 5, totalEvents: events) { n in
                if n % 100_000 < 2_000 { context.progress("  \(n) events") }
            }
            let buildSeconds = Measure.now() - buildStart
            precondition(written == events, "seeded \(written) events, wanted \(events)")
            let fileMB = Double((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) / 1e6
            add("build store (batched, one transaction per clip)", buildSeconds, "s", note: "\(events) events, \(String(format: "%.0f", fileMB)) MB file")

            // Current labels of one frame: random frames and annotators, in-process.
            let annotators = try store.annotators()
            let allMedia = try store.allMedia()
            var rng = SystemRandomNumberGenerator()
            var samples: [Double] = []
            for _ in 0..<(context.quick ? 500 : 5_000) {
                let m = allMedia[Int.random(in: 0..<allMedia.count, using: &rng)]
                let item = ItemRef(mediaSHA256: m.sha256, frame: Int.random(in: 0..<100, using: &rng))
                let who = annotators[Int.random(in: 0..<annotators.count, using: &rng)]
                let t0 = Measure.now()
                let labels = try store.currentLabels(item: item, annotator: who)
                samples.append(Measure.now() - t0)
                precondition(labels.severity != nil, "seeded frame without severity")
            }
            let current = TimingSummary(samples)
            add("current labels of one frame, p50", current.p50 * 1000, "ms")
            add("current labels of one frame, p99", current.p99 * 1000, "ms", target: "≤ 1 ms", pass: current.p99 <= 0.001)

            // One committed change (synchronous=FULL: includes the fsync of the WAL).
            let me = try store.annotator(named: "bench-annotator-1", role: .labeller)
            let session = try store.beginSession(annotator: me, name: "bench commit", mode: "label")
            var commits: [Double] = []
            for i in 0..<(context.quick ? 50 : 200) {
                let item = ItemRef(mediaSHA256: allMedia[i % allMedia.count].sha256, frame: i % 100)
                let t0 = Measure.now()
                try store.setLabel(item: item, field: .note, value: .note("bench \(i)"), annotator: me, session: session)
                commits.append(Measure.now() - t0)
            }
            let commit = TimingSummary(commits)
            add("setLabel committed (fsync), p50", commit.p50 * 1000, "ms")
            add("setLabel committed (fsync), p99", commit.p99 * 1000, "ms")

            // Whole processes, each with its own peak memory.
            let exe = context.pleuraExecutable.path
            context.progress("pleura stats over everything")
            let stats = try MeasuredProcess.run(exe, ["stats", "--store", path, "--json"])
            guard stats.status == 0 else { throw PleuraError(file: path, "pleura stats failed (status \(stats.status))") }
            add("pleura stats --json (whole process)", stats.seconds, "s", target: "≤ 2 s", pass: stats.seconds <= 2)
            add("pleura stats --json, peak RSS", Double(stats.maxRSSBytes) / 1e6, "MB")
            let statsInProcess = try Measure.seconds { _ = try store.statistics(level: .frame) }
            add("statistics(level: .frame) in-process", statsInProcess, "s")

            context.progress("pleura export --format csv")
            let csvPath = context.scratch.appendingPathComponent("bench-labels.csv").path
            let export = try MeasuredProcess.run(exe, ["export", "--store", path, "--format", "csv", "-o", csvPath])
            guard export.status == 0 else { throw PleuraError(file: path, "pleura export failed (status \(export.status))") }
            let csvMB = Double((try? FileManager.default.attributesOfItem(atPath: csvPath)[.size] as? Int) ?? 0) / 1e6
            add("pleura export --format csv (whole process)", export.seconds, "s", target: "≤ 5 s", pass: export.seconds <= 5,
                note: "\(String(format: "%.1f", csvMB)) MB, 300,000 rows")
            add("pleura export --format csv, peak RSS", Double(export.maxRSSBytes) / 1e6, "MB")

            // Import of the very rows the export wrote, into a new store that knows the same media
            // (as a second site would after `pleura add`): all or nothing, one transaction.
            context.progress("pleura import of the exported CSV into a new store")
            let importPath = context.scratch.appendingPathComponent("bench-import.sqlite").path
            let target = try AnnotationStore.open(path: importPath)
            for m in allMedia { try target.registerMedia(sha256: m.sha256, path: m.path, facts: m.facts) }
            let imported = try MeasuredProcess.run(exe, ["import", csvPath, "--store", importPath])
            guard imported.status == 0 else { throw PleuraError(file: csvPath, "pleura import failed (status \(imported.status)): \(imported.stderr)") }
            let importedEvents = try target.eventCount()
            // Every seeded value plus the bench's committed notes, each once.
            precondition(importedEvents == written + commits.count, "imported \(importedEvents) events, expected \(written + commits.count)")
            add("pleura import of that CSV (whole process)", imported.seconds, "s", target: "≤ 5 s", pass: imported.seconds <= 5,
                note: "\(importedEvents) events")
            add("pleura import, peak RSS", Double(imported.maxRSSBytes) / 1e6, "MB", target: "≤ 200 MB",
                pass: imported.maxRSSBytes <= 200_000_000)

            // The yardstick: the same events written by SQLite alone into a third store with the
            // same schema and media (set-based copy, no parsing or checks). An import can come
            // close to this, not below it; where this alone exceeds 5 s, so must any import.
            context.progress("SQLite alone: the same events copied set-based into a new store")
            let floorStore = try AnnotationStore.open(path: context.scratch.appendingPathComponent("bench-floor.sqlite").path)
            for m in allMedia { try floorStore.registerMedia(sha256: m.sha256, path: m.path, facts: m.facts) }
            let floor = try floorStore.copyLabelEventsSetBased(from: importPath)
            let copied = try floorStore.eventCount()
            precondition(copied == importedEvents, "the set-based copy holds \(copied) events, not \(importedEvents)")
            add("SQLite alone: those events copied by INSERT … SELECT (in-process)", floor, "s",
                note: "the floor of any import into this schema")
            add("pleura import / SQLite alone", imported.seconds / floor, "×")
            add("bench process peak RSS (current-labels loop)", Double(Measure.peakRSSBytes()) / 1e6, "MB")
            return results
        })
}
