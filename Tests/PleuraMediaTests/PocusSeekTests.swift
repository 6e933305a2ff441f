import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraMedia

/// Over every real POCUS file: frames reached by seeking (in random order, with no cache) are
/// the frames a straight decode from the start produces, without the slow fallback.
@Suite("Exact seeking over ../shared/data/pocus", .enabled(if: TestEnv.pocusDirectory != nil, "\(TestEnv.pocusMissing)"))
struct PocusSeekTests {
    @Test func seeksReproduceTheSequentialDecode() async throws {
        _ = testCacheDirectory
        let files = try PocusManifest.entries()
        #expect(files.count > 100)
        let failures = await collectFailures(files) { entry in
            let reader = try MediaReader(path: entry.url.path, cacheBytes: 0)
            var sequential: [String] = []
            try reader.forEachFrame(format: .gray8) { _, image in sequential.append(fingerprint(image!)) }
            guard sequential.count == reader.info.frames else {
                return ["\(entry.path): \(sequential.count) frames decode sequentially, index says \(reader.info.frames)"]
            }
            // 12 frames in random order (seeded by the file's hash), always including the first
            // and the last; each one not right after the previous is a seek.
            var rng = SeededGenerator(seed: UInt64(reader.info.sha256.prefix(12), radix: 16) ?? 1)
            var targets = Array(Array(0..<reader.info.frames).shuffled(using: &rng).prefix(10))
            targets += [0, reader.info.frames - 1]
            targets.shuffle(using: &rng)
            var problems: [String] = []
            for n in targets where fingerprint(try reader.frame(n, format: .gray8)) != sequential[n] {
                problems.append("\(entry.path): frame \(n) differs after a seek")
            }
            if reader.statistics.fallbacks > 0 {
                problems.append("\(entry.path): \(reader.statistics.fallbacks) seeks fell back to decoding from the start")
            }
            return problems
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
