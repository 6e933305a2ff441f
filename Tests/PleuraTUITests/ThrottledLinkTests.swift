import Foundation
import Testing
import PleuraTestSupport

/// Playback over a slow link: Pleura runs on a pty whose other end is read by this test at a
/// fixed rate (a token bucket with a 16 KiB burst, so a late wake-up under load loses no link
/// time: the "link"), which also answers the terminal probe as a sixel
/// terminal would (DA1 with 4, 8×16-pixel cells, 256 colour registers, DECSDM reset). A 30 fps
/// clip (a phantom clip retimed with ffmpeg) plays for 10 s; the relay counts complete sixel
/// images (`ESC P … ESC \`) as they arrive. Then the pause key is pressed 8 times (each followed
/// by play again) and the time from writing the key to the relay having read the pause's answer
/// ("… on frame" of the message "paused on frame N") is measured, and the time until the
/// refined still frame has arrived.
///
/// Targets (issue 12): at 10 Mbit/s ≥ 0.9 × 30 complete images per second; at 2, 5 and 10 Mbit/s
/// the pause key's p95 ≤ 300 ms.
@Suite(.serialized) struct ThrottledLinkTests {
    static let fps = 30.0
    static var ffmpeg: String? { TestEnv.which("ffmpeg") }

    struct Figures: CustomStringConvertible {
        var megabits: Double
        var imagesPerSecond: Double
        var bytesPerImage: Double
        var pauseLatencies: [Double]
        var stillLatencies: [Double]
        static func p(_ v: [Double], _ q: Double) -> Double {
            let s = v.sorted(); return s.isEmpty ? .nan : s[min(s.count - 1, Int((Double(s.count - 1) * q).rounded(.up)))]
        }
        var description: String {
            String(format: "throttled %.0f Mbit/s: %.1f complete images/s (clip %.0f fps), %.1f KiB/image; pause key → 'paused' read: p50 %.0f ms, p95 %.0f ms; → refined still frame read: p50 %.0f ms, p95 %.0f ms",
                   megabits, imagesPerSecond, ThrottledLinkTests.fps, bytesPerImage / 1024, Self.p(pauseLatencies, 0.5) * 1000,
                   Self.p(pauseLatencies, 0.95) * 1000, Self.p(stillLatencies, 0.5) * 1000, Self.p(stillLatencies, 0.95) * 1000)
                + "; pauses: " + pauseLatencies.map { String(Int(($0 * 1000).rounded())) }.joined(separator: ", ") + " ms"
        }
    }

    @Test(.enabled(if: ffmpeg != nil, "skipped: ffmpeg is absent (make test installs it)"), arguments: [2.0, 5.0, 10.0])
    func playbackFitsTheLinkAndPauseAnswersQuickly(_ megabits: Double) throws {
        let dir = try TestEnv.makeTempDirectory("pleura-link")
        defer { try? FileManager.default.removeItem(at: dir) }
        let made = try runProgram(TestEnv.pleuraBinary.path, ["phantom", "--output", dir.appendingPathComponent("phantom").path, "--count", "1"])
        try #require(made.status == 0, "\(made.stderrText)")
        let source = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("phantom").path)
            .first { $0.hasSuffix(".mp4") })
        // The phantom is 20 fps: the same frames at 30 fps (no frame repeated).
        let clip = dir.appendingPathComponent("clip30.mp4")
        let once = dir.appendingPathComponent("once30.mp4")
        let retimed = try runProgram(Self.ffmpeg!, ["-nostdin", "-loglevel", "error", "-y", "-i", dir.appendingPathComponent("phantom/" + source).path,
                                                    "-vf", "setpts=PTS*2/3", "-r", "30", "-c:v", "libx264", "-pix_fmt", "yuv420p", once.path])
        try #require(retimed.status == 0, "\(retimed.stderrText)")
        // 87 frames are 2.9 s: eight times over (23 s), so playback never reaches the end.
        let looped = try runProgram(Self.ffmpeg!, ["-nostdin", "-loglevel", "error", "-y", "-stream_loop", "7", "-i", once.path, "-c", "copy", clip.path])
        try #require(looped.status == 0, "\(looped.stderrText)")
        let session = dir.appendingPathComponent("s.toml")
        try "name = \"link\"\nmedia = [\"clip30.mp4\"]\nstore = \"labels.sqlite\"\nannotator = \"tester\"\n"
            .write(to: session, atomically: true, encoding: .utf8)

        let relay = try Relay(bytesPerSecond: megabits * 1_000_000 / 8, columns: 100, rows: 36)
        defer { relay.close() }
        try relay.start([TestEnv.pleuraBinary.path, "label", session.path, "--graphics", "sixel"],
                        environment: ["TERM": "xterm-256color", "LANG": "C.UTF-8",
                                      "PLEURA_CACHE_DIR": dir.appendingPathComponent("cache").path,
                                      "XDG_CONFIG_HOME": dir.appendingPathComponent("config").path])
        // Start-up: the first (still) image.
        relay.run(until: { $0.images.count >= 1 }, timeout: 30)
        try #require(relay.images.count >= 1, "no image within 30 s; read: \(relay.tail)")
        relay.run(seconds: 1)

        // 10 s of playback.
        relay.send(" ")
        let playStart = relay.now
        relay.run(seconds: 10.5)
        let window = relay.images.filter { $0.end > playStart + 0.5 && $0.end <= playStart + 10.5 }
        let imagesPerSecond = Double(window.count) / 10
        let bytesPerImage = window.isEmpty ? 0 : Double(window.map(\.bytes).reduce(0, +)) / Double(window.count)

        // Pause, refine, play again: 8 times.
        var pause: [Double] = [], still: [Double] = []
        for _ in 0..<8 {
            let mark = relay.textMarks.count, imagesBefore = relay.images.count
            relay.send(" ")
            let sent = relay.now
            relay.run(until: { $0.textMarks.count > mark }, timeout: 5)
            if relay.textMarks.count > mark { pause.append(relay.textMarks[mark] - sent) } else { pause.append(5) }
            relay.run(until: { r in r.images.dropFirst(imagesBefore).contains { $0.end > (r.textMarks.count > mark ? r.textMarks[mark] : sent) } }, timeout: 5)
            if let refined = relay.images.dropFirst(imagesBefore).first(where: { $0.end > (relay.textMarks.count > mark ? relay.textMarks[mark] : sent) }) {
                still.append(refined.end - sent)
            }
            relay.run(seconds: 0.5)
            relay.send(" ")
            relay.run(seconds: 1.5)
        }
        relay.send("q")
        relay.run(until: { $0.exited }, timeout: 20)

        let figures = Figures(megabits: megabits, imagesPerSecond: imagesPerSecond, bytesPerImage: bytesPerImage,
                              pauseLatencies: pause, stillLatencies: still)
        print(figures)
        // Was missed (8.8–11.7 images/s, p95 up to 332 ms at 2 Mbit/s): the relay itself could
        // not read 10 Mbit/s (it allocated per byte), the link estimate stayed low behind the pty's
        // small buffer, a frame due while the link was busy waited for the next one, and the v2
        // model found the scan sector from each paused frame (now once per clip, while idle).
        if megabits >= 10 { #expect(imagesPerSecond >= 0.9 * Self.fps, "\(figures)") }
        #expect(Figures.p(pause, 0.95) <= 0.3, "\(figures)")
        #expect(still.count == 8, "every pause refines the frame on screen: \(figures)")
    }
}

/// A pty whose far end this object reads at a limited rate, answering the terminal probe.
final class Relay {
    let bytesPerSecond: Double
    private let master: Int32
    private let slavePath: String
    private var pid: pid_t = 0
    private(set) var exited = false
    private let clock0 = Date()
    var now: Double { Date().timeIntervalSince(clock0) }

    /// Complete sixel images: when their final byte was read, and their size.
    private(set) var images: [(end: Double, bytes: Int)] = []
    /// When "paused on frame" was read, each time.
    private(set) var textMarks: [Double] = []
    private var imageStart: Int?
    private var total = 0
    /// The last 32 bytes read (a ring), to find the patterns below across reads.
    private var ring = [UInt8](repeating: 0, count: 32)
    private var last: [UInt8] = []
    var tail: String { String(decoding: last.suffix(300), as: UTF8.self).debugDescription }

    init(bytesPerSecond: Double, columns: Int, rows: Int) throws {
        self.bytesPerSecond = bytesPerSecond
        // posix_openpt/ptsname need _XOPEN_SOURCE, which Swift's Glibc module lacks: the Linux
        // ioctls behind them (TIOCSPTLCK unlock, TIOCGPTN number; devpts needs no grantpt).
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0, number: UInt32 = 0
        guard master >= 0, ioctl(master, UInt(0x4004_5431), &unlock) == 0, ioctl(master, UInt(0x8004_5430), &number) == 0 else {
            throw DriverError("no pty: \(String(cString: strerror(errno)))")
        }
        slavePath = "/dev/pts/\(number)"
        var ws = winsize(ws_row: UInt16(rows), ws_col: UInt16(columns), ws_xpixel: UInt16(columns * 8), ws_ypixel: UInt16(rows * 16))
        _ = ioctl(master, UInt(TIOCSWINSZ), &ws)
    }

    /// Starts `argv` in a new session with the pty as its controlling terminal (outside any
    /// tmux or screen the tests run in).
    func start(_ argv: [String], environment: [String: String]) throws {
        pid = try spawn(argv, environment: environment, removing: ["TMUX", "STY"], terminal: slavePath)
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    }

    func run(seconds: Double) { let end = now + seconds; run(until: { $0.now >= end }, timeout: seconds + 1) }

    /// Reads the link at its rate until `done` holds or `timeout` seconds pass.
    func run(until done: (Relay) -> Bool, timeout: Double) {
        let deadline = now + timeout
        var allowance = 0.0, lastTick = now
        let burst = 16384.0
        var buffer = [UInt8](repeating: 0, count: 16384)
        while !done(self) && now < deadline {
            let t = now
            allowance = min(burst, allowance + (t - lastTick) * bytesPerSecond)
            lastTick = t
            if allowance < 256 {
                usleep(UInt32(max(200, (256 - allowance) / bytesPerSecond * 1_000_000)))
                continue
            }
            var pfd = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 5) > 0 else { reap(); continue }
            let n = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, min(Int(allowance), 16384)) }
            if n <= 0 { reap(); if exited { break }; usleep(2000); continue }
            allowance -= Double(n)
            consume(buffer[0..<n], at: now)
        }
    }

    private func reap() {
        guard !exited, pid > 0 else { return }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exited = true }
    }

    private static let answers: [(query: [UInt8], answer: String)] = [
        (Array("\u{1B}[c".utf8), "\u{1B}[?63;1;2;4;6;9;15;16;22;28c"),
        (Array("\u{1B}[16t".utf8), "\u{1B}[6;16;8t"),
        (Array("\u{1B}[?1;1;0S".utf8), "\u{1B}[?1;0;256S"),
        (Array("\u{1B}[?80$p".utf8), "\u{1B}[?80;2$y"),
    ]
    /// The pause's message is "paused on frame N"; ncurses sends only the cells that changed
    /// (the "p" of "playing" stays), and "on frame" appears in no other message or panel line.
    private static let pausedText = Array("on frame".utf8)
    private static let imageOpen: [UInt8] = [0x1B, UInt8(ascii: "P")]
    private static let imageClose: [UInt8] = [0x1B, 0x5C]

    /// Whether the bytes read so far end with `pattern` (at most 32 bytes).
    private func endsWith(_ pattern: [UInt8]) -> Bool {
        guard total >= pattern.count else { return false }
        for k in 0..<pattern.count where ring[(total - 1 - k) & 31] != pattern[pattern.count - 1 - k] { return false }
        return true
    }

    /// Scans what was read. It must keep up with 10 Mbit/s on a loaded machine, so it compares
    /// only where a byte ends one of the patterns, in the ring, without allocating (a relay that
    /// is slower than its link measures itself, not Pleura).
    private func consume(_ bytes: ArraySlice<UInt8>, at time: Double) {
        last.append(contentsOf: bytes)
        if last.count > 4096 { last.removeFirst(last.count - 2048) }
        for b in bytes {
            ring[total & 31] = b
            total += 1
            switch b {
            case UInt8(ascii: "P"): if endsWith(Self.imageOpen) { imageStart = total - 1 }
            case 0x5C:
                if endsWith(Self.imageClose), let start = imageStart { images.append((time, total - start)); imageStart = nil }
            case UInt8(ascii: "e"): if endsWith(Self.pausedText) { textMarks.append(time) }
            case UInt8(ascii: "c"), UInt8(ascii: "t"), UInt8(ascii: "S"), UInt8(ascii: "p"):
                for (query, answer) in Self.answers where query.last == b && endsWith(query) { send(answer) }
            default: break
            }
        }
    }

    func close() {
        if pid > 0 && !exited { stop(pid) }
        _ = Glibc.close(master)
    }
}
