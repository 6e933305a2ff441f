import Testing
@testable import PleuraStore

@Test func sqliteSupportsWAL() {
    // WAL and the ordered JSON functions the store relies on need SQLite ≥ 3.38.
    let parts = StoreLibraries.sqliteVersion.split(separator: ".").compactMap { Int($0) }
    #expect(parts.count >= 2 && (parts[0] > 3 || parts[1] >= 38))
}
