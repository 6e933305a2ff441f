import Testing
@testable import PleuraMedia

@Test func ffmpegLibrariesAreFFmpeg5OrNewer() throws {
    let v = try MediaLibraries.versions()
    let major = try #require(v["avformat"].flatMap { Int($0.split(separator: ".")[0]) })
    #expect(major >= 59)
}
