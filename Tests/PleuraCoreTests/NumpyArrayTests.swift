import Foundation
import Testing
import PleuraCore
import PleuraTestSupport

/// The exact bytes `numpy.save` writes for `np.array([[0, .5, 1], [1, .25, -2]], dtype=np.float32)`.
private let numpyFloatFile: [UInt8] = {
    var b: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, 0x76, 0]
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    b += Array(header.utf8) + [UInt8](repeating: 0x20, count: 118 - header.utf8.count - 1) + [0x0A]
    b += [0, 0, 0, 0, 0, 0, 0, 0x3F, 0, 0, 0x80, 0x3F, 0, 0, 0x80, 0x3F, 0, 0, 0x80, 0x3E, 0, 0, 0, 0xC0]
    return b
}()

@Test func numpyWritesTheBytesNumpyWrites() {
    let a = NumpyArray(shape: [2, 3], floats: [0, 0.5, 1, 1, 0.25, -2])
    #expect(a.serialized() == numpyFloatFile)
    #expect(a.serialized().count % 64 == 24)      // header padded to 128, then 6 × 4 data bytes
}

@Test func numpyReadsNumpysBytes() throws {
    let a = try NumpyArray.parse(numpyFloatFile)
    #expect(a.shape == [2, 3])
    #expect(a.dtype == .float32)
    #expect(a.floatValues == [0, 0.5, 1, 1, 0.25, -2])
}

@Test func numpyRoundTripsUInt8ImagesAndFloats() throws {
    let img = PixelImage(width: 2, height: 2, format: .rgb24, pixels: Array(0..<12))
    let a = NumpyArray(image: img)
    #expect(a.shape == [2, 2, 3])
    let back = try NumpyArray.parse(a.serialized())
    #expect(back == a)
    #expect(back.image == img)
    let grey = NumpyArray(image: PixelImage(width: 3, height: 1, format: .gray8, pixels: [1, 2, 3]))
    #expect(try NumpyArray.parse(grey.serialized()).image?.format == .gray8)
    let f3 = NumpyArray(shape: [1, 2, 2], floats: [.pi, -0, .infinity, 1e-30])
    #expect(try NumpyArray.parse(f3.serialized()) == f3)
}

@Test func numpyFileWriteAndRead() throws {
    let dir = try TestEnv.makeTempDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("m.npy").path
    let a = NumpyArray(shape: [4], floats: [1, 2, 3, 4])
    try a.write(path: path)
    #expect(try NumpyArray.read(path: path) == a)
}

@Test func numpyRejectsWhatItCannotRead() {
    func reason(_ bytes: [UInt8]) -> String {
        do { _ = try NumpyArray.parse(bytes); return "" } catch let e as PleuraError { return e.reason } catch { return "\(error)" }
    }
    #expect(reason(Array("not numpy at all".utf8)).contains("not a NumPy"))
    func file(_ header: String, data: [UInt8] = []) -> [UInt8] {
        let h = header + "\n"
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.utf8.count), 0] + Array(h.utf8) + data
    }
    #expect(reason(file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0, 0, 0, 0, 0])).contains("dtype"))
    #expect(reason(file("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", data: [0, 0, 0, 0])).contains("Fortran"))
    #expect(reason(file("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }", data: [0, 0, 0, 0])).contains("shorter"))
    #expect(reason(file("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1), }", data: [0, 0, 0, 0])).contains("dimensions"))
    #expect(reason(Array(numpyFloatFile.prefix(12))).contains("truncated"))
}

@Test func numpyMissingFileNamesTheFile() {
    #expect(throws: PleuraError.self) { try NumpyArray.read(path: "/no/such/file.npy") }
    do { _ = try NumpyArray.read(path: "/no/such/file.npy") } catch let e as PleuraError {
        #expect(e.file == "/no/such/file.npy")
    } catch { Issue.record("unexpected \(error)") }
}

@Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "skipped: /usr/bin/python3 absent"))
func numpyInteroperatesWithRealNumpy() throws {
    let probe = try runProgram("/usr/bin/python3", ["-c", "import numpy"])
    guard probe.status == 0 else { return }     // numpy not installed: nothing to compare against
    let dir = try TestEnv.makeTempDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let ours = dir.appendingPathComponent("ours.npy").path, theirs = dir.appendingPathComponent("theirs.npy").path
    try NumpyArray(shape: [2, 2], floats: [0.25, 0.5, 0.75, 1]).write(path: ours)
    let r = try runProgram("/usr/bin/python3", ["-c", """
        import numpy as np, sys
        a = np.load(sys.argv[1]); assert a.dtype == np.float32 and a.shape == (2, 2) and a[1, 1] == 1.0, a
        np.save(sys.argv[2], np.arange(24, dtype=np.uint8).reshape(2, 4, 3))
        """, ours, theirs])
    #expect(r.status == 0, "\(r.stderrText)")
    let back = try NumpyArray.read(path: theirs)
    #expect(back.image?.width == 4 && back.image?.height == 2 && back.image?.pixels == Array(0..<24))
}
