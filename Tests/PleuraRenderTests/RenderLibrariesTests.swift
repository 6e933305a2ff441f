import Testing
@testable import PleuraRender

@Test func libsixelIsPresent() {
    #expect(RenderLibraries.sixelVersion.hasPrefix("1."))
}
