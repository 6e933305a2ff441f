import Testing
@testable import PleuraTUI

@Test func ncursesIsWideCharacter6() {
    #expect(TUILibraries.ncursesVersion.hasPrefix("ncurses 6"))
}
