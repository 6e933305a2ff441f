import Foundation
import Testing
import PleuraTestSupport

@Test func versionRuns() throws {
    let r = try runPleura(["version"])
    #expect(r.status == 0)
    #expect(r.stdoutText.hasPrefix("0."))
}

@Test func unknownCommandFailsWithUsage() throws {
    let r = try runPleura(["no-such-command"])
    #expect(r.status != 0)
    #expect(!r.stderrText.isEmpty)
}
