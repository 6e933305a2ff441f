import Foundation
import PleuraCore

/// The files listed in `../shared/data/pocus/manifest.csv` (path relative to the folder, kind).
public enum PocusManifest {
    public struct Entry: Sendable {
        public var path: String
        public var kind: String
        public var url: URL
    }

    public static func entries() throws -> [Entry] {
        guard let dir = TestEnv.pocusDirectory else { return [] }
        let text = try String(contentsOf: dir.appendingPathComponent("manifest.csv"), encoding: .utf8)
        let rows = try CSV.parse(text, file: "manifest.csv").map(\.fields)
        guard let header = rows.first, let p = header.firstIndex(of: "path"), let k = header.firstIndex(of: "kind") else {
            throw FixtureError("manifest.csv has no path/kind columns")
        }
        return rows.dropFirst().filter { $0.count > max(p, k) }.map {
            Entry(path: $0[p], kind: $0[k], url: dir.appendingPathComponent($0[p]))
        }
    }
}

/// Runs `work` over `items` with at most `limit` running at once (the machine has 2 cores shared
/// by many), collecting the failure messages each returns.
public func collectFailures<T: Sendable>(_ items: [T], limit: Int = 2,
                                         _ work: @escaping @Sendable (T) async throws -> [String]) async -> [String] {
    await withTaskGroup(of: [String].self) { group in
        var iterator = items.makeIterator()
        var failures: [String] = []
        func addNext() -> Bool {
            guard let item = iterator.next() else { return false }
            group.addTask {
                do { return try await work(item) } catch { return ["\(item): \(error)"] }
            }
            return true
        }
        for _ in 0..<limit where !addNext() { break }
        while let result = await group.next() {
            failures += result
            _ = addNext()
        }
        return failures
    }
}
