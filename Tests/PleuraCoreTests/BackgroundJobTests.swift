import Foundation
import Testing
@testable import PleuraCore

/// The one way Pleura runs slow set-up on another thread (the TUI's and `pleura infer`'s model load).
@Test func backgroundJobRunsOnceAndHandsOverItsResult() throws {
    let gate = DispatchSemaphore(value: 0)
    let job = BackgroundJob { () -> Int in
        gate.wait()
        return 42
    }
    #expect(job.result == nil)                     // still running: polling does not block
    gate.signal()
    #expect(try job.wait().get() == 42)
    #expect(try job.result?.get() == 42)
    #expect(try job.wait().get() == 42)            // later waits return at once

    let failing = BackgroundJob { () throws -> Int in throw PleuraError(file: "/m.pt", "broken") }
    switch failing.wait() {
    case .success: Issue.record("the error was lost")
    case .failure(let error): #expect((error as? PleuraError)?.description == "/m.pt: broken")
    }
}
