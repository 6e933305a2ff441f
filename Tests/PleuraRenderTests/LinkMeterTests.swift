import Testing
import PleuraCore
@testable import PleuraRender

/// A simulated link of `rate` bytes/s behind a buffer of `buffer` bytes, written frame by frame
/// with `gap` seconds between writes: the meter must find the rate from write timing alone.
private func simulate(rate: Double, buffer: Double, frameBytes: Int, gap: Double, frames: Int, meter: LinkMeter) {
    var now = 0.0, queued = 0.0
    for _ in 0..<frames {
        queued = max(0, queued - gap * rate); now += gap
        let start = now
        // The write returns once the rest fits in the buffer.
        let excess = queued + Double(frameBytes) - buffer
        if excess > 0 { now += excess / rate; queued = buffer } else { queued += Double(frameBytes) }
        meter.recordWrite(bytes: frameBytes, start: start, end: now)
    }
}

@Test func linkMeterFindsTheRateOfASlowLink() throws {
    for megabits in [2.0, 5.0, 10.0] {
        let meter = LinkMeter()
        let rate = megabits * 1_000_000 / 8
        simulate(rate: rate, buffer: 65_536, frameBytes: 40_000, gap: 0.01, frames: 60, meter: meter)
        let measured = try #require(meter.measuredBytesPerSecond, "\(megabits) Mbit/s: no estimate")
        #expect(abs(measured / rate - 1) < 0.15, "\(megabits) Mbit/s: measured \(measured * 8 / 1e6)")
    }
}

/// Playback as the screen paces it: a frame is due every 1/30 s and goes out only when the meter
/// says the link has drained (else as soon as it has), behind a small buffer (8 KiB, less than a
/// frame: every write waits). The estimate must not stay low (it did: writes that waited less
/// than the pause before them never moved it), so the frames that go out keep up with the link.
@Test func pacedPlaybackBehindASmallBufferFindsTheLinksRate() {
    let rate = 10.0 * 1_000_000 / 8, buffer = 8192.0, frameBytes = 35_000, fps = 30.0
    let meter = LinkMeter()
    var now = 0.0, queued = 0.0, nextDue = 0.0
    var sent: [Double] = []
    while now < 20 {
        // Wait for the frame to be due and the link to be free (as ShellApp's loop does).
        let wait = max(nextDue - now, meter.isBusy(now: now) ? meter.backlogSeconds(now: now) - 0.009 : 0)
        if wait > 0 { queued = max(0, queued - wait * rate); now += wait }
        if meter.isBusy(now: now) { now += 0.001; queued = max(0, queued - 0.001 * rate); continue }
        let start = now
        let excess = queued + Double(frameBytes) - buffer
        if excess > 0 { now += excess / rate; queued = buffer } else { queued += Double(frameBytes) }
        meter.recordWrite(bytes: frameBytes, start: start, end: now)
        sent.append(now)
        // The next frame of the clip's schedule (frames due while writing are dropped).
        nextDue = (now * fps).rounded(.down) / fps + 1 / fps
    }
    let lastTen = sent.filter { $0 > 10 }.count
    // The link carries 1.25 MB/s / 35 kB = 35.7 frames/s: all 30 fit.
    #expect(Double(lastTen) / 10 >= 0.9 * fps, "\(Double(lastTen) / 10) frames/s, estimate \(meter.measuredBytesPerSecond.map { $0 * 8 / 1e6 } ?? 0) Mbit/s")
}

@Test func linkMeterSaysBusyUntilTheLinkHasDrained() {
    let meter = LinkMeter(fixedMegabitsPerSecond: 8)          // 1 MB/s
    #expect(meter.bytesPerSecond == 1_000_000)
    meter.recordWrite(bytes: 100_000, start: 10, end: 10.0001)  // 0.1 s of link
    #expect(meter.isBusy(now: 10.01))
    #expect(abs(meter.backlogSeconds(now: 10.05) - 0.05) < 0.001)
    #expect(!meter.isBusy(now: 10.095))                         // within the 10 ms slack
    #expect(meter.summary.contains("8 Mbit/s") || meter.summary.contains("8.0 Mbit/s"))
}

@Test func playbackQualityPicksTheBestRungThatFits() throws {
    let quality = PlaybackQuality()
    #expect(quality.chooseRung(linkBytesPerSecond: nil, framesPerSecond: 30) == 0)
    let frame = PixelImage(width: 200, height: 160, format: .gray8,
                           pixels: (0..<(200 * 160)).map { UInt8(truncatingIfNeeded: ($0 * 7919) % 251) })
    let best = try quality.encode(frame)
    // A link that carries the best rung at 30 fps keeps it; one that carries a quarter does not.
    #expect(quality.chooseRung(linkBytesPerSecond: Double(best.count) * 30 / PlaybackQuality.headroom * 1.01, framesPerSecond: 30) == 0)
    let low = quality.chooseRung(linkBytesPerSecond: Double(best.count) * 30 / 4, framesPerSecond: 30)
    #expect(low > 0)
    let cheaper = try quality.encode(frame)
    #expect(cheaper.count < best.count)
}
