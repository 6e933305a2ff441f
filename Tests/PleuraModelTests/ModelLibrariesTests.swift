import Testing
@testable import PleuraModel

@Test func shimNameIsASharedLibrary() {
    #expect(ModelLibraries.shimLibraryName.hasSuffix(".so"))
}
