#if canImport(Glibc)
import Glibc
#endif

/// File names as POSIX has them: bytes, not necessarily UTF-8.
///
/// Swift's `CommandLine.arguments` repairs invalid UTF-8 (each bad byte becomes U+FFFD), so a file
/// called `scan\xff.mp4` would become a name that does not exist. Pleura reads its arguments with
/// ``arguments()`` instead: valid UTF-8 stays as it is, and each byte of an invalid sequence
/// becomes one scalar of a reserved private-use range (U+10FF80 + byte − 0x80) that ``bytes(_:)``
/// turns back into that byte. Files are opened with those bytes (``withCString(_:_:)``), and
/// ``SafeText`` shows such a byte as U+FFFD. (A real name containing U+10FF80–U+10FFFF, plane-16
/// private use, would be read as bytes: no file system or keyboard produces those.)
public enum FileName {
    /// The first scalar of the reserved range: U+10FF80 stands for byte 0x80, U+10FFFF for 0xFF.
    static let base: UInt32 = 0x10FF00

    /// True for a scalar that stands for one raw byte of a non-UTF-8 name.
    public static func isRawByte(_ s: Unicode.Scalar) -> Bool { s.value >= base + 0x80 && s.value <= base + 0xFF }

    /// The process's arguments (including argv[0]) with invalid UTF-8 kept as raw-byte scalars.
    public static func arguments() -> [String] {
        (0..<Int(CommandLine.argc)).map { i in
            guard let p = CommandLine.unsafeArgv[i] else { return "" }
            return decode(bytes: Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p))))
        }
    }

    /// Bytes → name: valid UTF-8 decoded, every byte of an invalid sequence as a raw-byte scalar.
    public static func decode(bytes: [UInt8]) -> String {
        var out = String.UnicodeScalarView()
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let length = b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0
            if length == 1 { out.append(Unicode.Scalar(b)); i += 1; continue }
            if length > 0, i + length <= bytes.count,
               let s = String(validating: bytes[i..<(i + length)], as: UTF8.self), s.unicodeScalars.count == 1,
               let scalar = s.unicodeScalars.first, !isRawByte(scalar) {
                out.append(scalar); i += length; continue
            }
            out.append(Unicode.Scalar(base + UInt32(b))!)
            i += 1
        }
        return String(out)
    }

    /// Name → the bytes to hand to the kernel.
    public static func bytes(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(name.utf8.count)
        for s in name.unicodeScalars {
            if isRawByte(s) { out.append(UInt8(s.value - base)) } else { out.append(contentsOf: String(s).utf8) }
        }
        return out
    }

    /// Calls `body` with the name as a NUL-terminated C string of its original bytes.
    public static func withCString<R>(_ name: String, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var b = bytes(name)
        b.append(0)
        return try b.withUnsafeBufferPointer { try $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: $0.count, body) }
    }

    /// `stat(2)` of the name's bytes; nil with `errno` set when it fails.
    public static func status(_ name: String) -> stat? {
        var st = stat()
        return withCString(name) { stat($0, &st) } == 0 ? st : nil
    }

    /// Every file below the folder `folder` (recursively; symbolic links to folders are not
    /// followed, so a link loop cannot trap the walk), each as `folder/relative/name` in this
    /// byte-keeping encoding, sorted. Walked with opendir/readdir on the names' bytes: Foundation's
    /// enumerator turns a folder or entry whose name is not UTF-8 into a name that does not exist.
    /// Subfolders that cannot be read are skipped, as `find` would report and pass them.
    public static func filesBelow(_ folder: String) throws -> [String] {
        var out: [String] = []
        var pending = [folder]
        while let path = pending.popLast() {
            guard let dir = withCString(path, { opendir($0) }) else {
                if path == folder { throw PleuraError(file: folder, "cannot read the folder: \(String(cString: strerror(errno)))") }
                continue
            }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let nameBytes: [UInt8] = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                    Array(raw.prefix(while: { $0 != 0 }))
                }
                if nameBytes == [0x2E] || nameBytes == [0x2E, 0x2E] { continue }
                let child = (path.hasSuffix("/") ? path : path + "/") + decode(bytes: nameBytes)
                var st = stat()
                guard withCString(child, { lstat($0, &st) }) == 0 else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR { pending.append(child) } else { out.append(child) }
            }
        }
        return out.sorted { bytes($0).lexicographicallyPrecedes(bytes($1)) }
    }

    /// True when something exists under that name.
    public static func exists(_ name: String) -> Bool { status(name) != nil }

    /// Up to `count` first bytes of the file (nil when it cannot be opened).
    public static func readPrefix(_ name: String, count: Int) -> [UInt8]? {
        let fd = withCString(name) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, count - filled) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            filled += n
        }
        return Array(out[0..<filled])
    }

    /// The whole file; throws `PleuraError(file: name, …)` saying why it cannot be read.
    public static func contents(_ name: String) throws -> [UInt8] {
        let fd = withCString(name) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else {
            let e = errno
            throw PleuraError(file: name, e == ENOENT ? "no such file" : e == EACCES ? "cannot read the file (permission denied)"
                                                      : "cannot open: \(String(cString: strerror(e)))")
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { throw PleuraError(file: name, "is a folder, not a file") }
        var out: [UInt8] = []
        out.reserveCapacity(max(0, Int(st.st_size)))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw PleuraError(file: name, "read error: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }
}
