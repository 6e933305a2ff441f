// The fuzz harnesses: one function per input format Pleura reads from outside, each called by
// libFuzzer with arbitrary bytes (Fuzz/Drivers/fuzz-NAME/driver.c). A harness may throw
// PleuraError (that is the correct answer to bad input); a crash, a trap (precondition, integer
// overflow, index out of range), a sanitizer report, a hang or a broken invariant checked here is a
// finding. Built only by `make fuzz` (PLEURA_FUZZ=1, see Package.swift and Scripts/fuzz.sh).
import Foundation
@testable import PleuraCore
@testable @_spi(Fuzzing) import PleuraStore
@testable import PleuraRender
@testable import PleuraMedia

@inline(__always)
private func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Text as the import command gets it: only valid UTF-8 reaches the readers.
private func text(_ data: UnsafePointer<UInt8>?, _ size: Int) -> String? {
    String(validating: bytes(data, size), as: UTF8.self)
}

@_cdecl("pleura_fuzz_csv")
public func fuzzCSV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let input = text(data, size) else { return 0 }
    if let records = try? CSV.parse(input, file: "fuzz.csv") {
        // Invariant: every parsed record formats and parses back to the same fields.
        for record in records where record.fields != [""] {
            let again = try! CSV.parse(CSV.formatRow(record.fields), file: "again.csv")
            precondition(again.count == 1 && again[0].fields == record.fields, "CSV round trip changed \(record.fields)")
        }
    }
    _ = try? ExchangeReader.labelCSV(input, file: "fuzz.csv")
    _ = try? ExchangeReader.ratingCSV(input, file: "fuzz.csv")
    return 0
}

@_cdecl("pleura_fuzz_jsonl")
public func fuzzJSONL(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let input = text(data, size) else { return 0 }
    _ = try? ExchangeReader.jsonLines(input, file: "fuzz.jsonl")
    return 0
}

@_cdecl("pleura_fuzz_labelstudio")
public func fuzzLabelStudio(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let input = text(data, size) else { return 0 }
    _ = try? ExchangeReader.labelStudio(input, file: "fuzz.json")
    return 0
}

@_cdecl("pleura_fuzz_session")
public func fuzzSession(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let input = text(data, size) else { return 0 }
    _ = try? Session.parse(input, file: URL(fileURLWithPath: "/nonexistent/fuzz/session.toml"))
    return 0
}

@_cdecl("pleura_fuzz_keymap")
public func fuzzKeymap(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let input = text(data, size) else { return 0 }
    if let full = try? Keymap.parse(input, file: "fuzz-keymap.toml") {
        // Invariant: a keymap that parses also takes itself as an override.
        _ = try? full.overriding(with: input, file: "override.toml")
    }
    return 0
}

@_cdecl("pleura_fuzz_terminal")
public func fuzzTerminal(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    var caps = TerminalProbe.fromEnvironment(["TERM": "xterm"])
    TerminalProbe.apply(TerminalProbe.parseReplies(input), to: &caps)
    _ = TerminalProbe.containsDA1Reply(input)
    return 0
}

/// Media open: the bytes as a file, opened, probed and decoded (first and last frame) the way
/// `pleura probe` and the labelling screen do. The frame-index cache is pointed at a path that
/// cannot exist, so no input is cached (each would otherwise leave a file behind).
@_cdecl("pleura_fuzz_media")
public func fuzzMedia(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    setenv("PLEURA_CACHE_DIR", "/dev/null/pleura-fuzz-no-cache", 1)
    let path = NSTemporaryDirectory() + "pleura-fuzz-media-\(getpid())"
    let input = bytes(data, size)
    guard FileManager.default.createFile(atPath: path, contents: Data(input)) else { return 0 }
    defer { unlink(path) }
    if let reader = try? MediaReader(path: path, cacheBytes: 8 << 20) {
        let frames = reader.info.frames
        precondition(frames >= 1, "a media file opened with \(frames) frames")
        _ = try? reader.frame(0)
        if frames > 1 { _ = try? reader.frame(frames - 1) }
    }
    return 0
}
