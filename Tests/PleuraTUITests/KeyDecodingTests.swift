import CNcursesw
import Testing
import PleuraCore
@testable import PleuraTUI

/// ncurses' key reports become the keys keymaps name (so `Ctrl-r`, arrows and `Space` bind).
@Suite struct KeyDecodingTests {
    @Test func functionKeysAndCharacters() {
        #expect(Terminal.key(rc: KEY_CODE_YES, code: wint_t(KEY_RIGHT)) == .named(.right))
        #expect(Terminal.key(rc: KEY_CODE_YES, code: wint_t(KEY_LEFT)) == .named(.left))
        #expect(Terminal.key(rc: KEY_CODE_YES, code: wint_t(KEY_NPAGE)) == .named(.pageDown))
        #expect(Terminal.key(rc: KEY_CODE_YES, code: wint_t(KEY_F0 + 1)) == .named(.f1))
        #expect(Terminal.key(rc: OK, code: 18) == .control("r"))
        #expect(Terminal.key(rc: OK, code: 32) == .named(.space))
        #expect(Terminal.key(rc: OK, code: 13) == .named(.enter))
        #expect(Terminal.key(rc: OK, code: 127) == .named(.backspace))
        #expect(Terminal.key(rc: OK, code: 27) == .named(.escape))
        #expect(Terminal.key(rc: OK, code: wint_t(UInt8(ascii: "L"))) == .character("L"))
        #expect(Terminal.key(rc: OK, code: wint_t(UInt8(ascii: "."))) == .character("."))
        #expect(Terminal.key(rc: OK, code: 0x9B) == nil)        // C1 control: never a key
    }

    @Test func layoutNeeds80By24() {
        #expect(ScreenLayout(columns: 79, rows: 24).isTooSmall)
        #expect(ScreenLayout(columns: 80, rows: 23).isTooSmall)
        let l = ScreenLayout(columns: 80, rows: 24)
        #expect(!l.isTooSmall)
        #expect(l.imageColumns == 43 && l.imageRows == 21)
        #expect(l.separatorColumn == 43 && l.panelColumn == 45 && l.statusRow == 23)
    }

    @Test func textIsClippedByDisplayWidth() {
        #expect(TextWidth.clip("abcdef", to: 4) == "abc…")
        #expect(TextWidth.pad("ab", to: 4) == "ab  ")
    }
}
