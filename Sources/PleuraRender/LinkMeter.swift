import PleuraCore

/// How fast the terminal drains what Pleura writes, measured from write timing alone.
///
/// Over SSH nothing reports the link's speed, but a write to the terminal blocks once the buffers
/// between Pleura and the screen (pty, sshd, TCP) are full, and then returns only as fast as the
/// far end takes bytes. So when two writes in a row blocked (each returned with the buffers full),
/// the bytes of the second were drained in the time between the two returns: that is one sample
/// of the link's rate (taken only when the second write waited longer than the pause before it,
/// so the buffers cannot have run empty in between). Samples are smoothed; a write that did not
/// block lifts the estimate by 3 % (so a link that got faster is noticed; the next write that
/// waits measures it again).
///
/// The meter also keeps the time by which the link will have drained everything written so far,
/// so playback can skip a frame instead of queueing it behind the previous one
/// (``isBusy(now:slack:)``): a key's answer then waits for at most one frame, not for a queue.
///
/// Times are seconds on one monotonic clock (``Measure/now()``); not thread-safe.
public final class LinkMeter {
    /// A write that took longer than this blocked (a pty write of 100 KB that does not block
    /// takes well under 1 ms).
    public static let blockedAfter = 0.003
    /// Smallest write that gives a sample (small writes are dominated by scheduling noise).
    public static let minimumSampleBytes = 2048

    /// A rate fixed by the user (`--link MBIT`, the session's `link_mbit`), in bytes/s; it
    /// overrides the measurement.
    public var fixedBytesPerSecond: Double?
    /// The measured rate in bytes/s; nil until two consecutive writes blocked.
    public private(set) var measuredBytesPerSecond: Double?
    /// Samples taken so far (for `pleura doctor`).
    public private(set) var samples = 0
    /// Bytes written in total.
    public private(set) var bytesWritten = 0

    private var lastEnd: Double?
    private var lastBlocked = false
    /// When the link will have drained what was written (by the rate in use).
    private var drainedAt = 0.0

    public init(fixedMegabitsPerSecond: Double? = nil) {
        fixedBytesPerSecond = fixedMegabitsPerSecond.map { $0 * 1_000_000 / 8 }
    }

    /// The rate to plan with, bytes/s: the fixed one, else the measured one, else nil.
    public var bytesPerSecond: Double? { fixedBytesPerSecond ?? measuredBytesPerSecond }

    /// Records one complete write of `bytes` that started and returned at these times.
    public func recordWrite(bytes: Int, start: Double, end: Double) {
        guard bytes > 0, end >= start else { return }
        bytesWritten += bytes
        let duration = end - start
        let blocked = duration > Self.blockedAfter
        if blocked, lastBlocked, let previous = lastEnd, bytes >= Self.minimumSampleBytes, start - previous < duration {
            // Full buffers at both returns, and this write waited longer than the idle time before
            // it (so the buffers had no time to run empty): the link drained exactly this write's
            // bytes since the previous return.
            addSample(Double(bytes) / (end - previous))
        } else if blocked, measuredBytesPerSecond == nil, bytes >= Self.minimumSampleBytes {
            // No clean sample yet: start from a lower bound (the buffers may have emptied during
            // the pause before this write, which at most doubles the time counted), so frames
            // never queue while the estimate climbs.
            let pause = lastEnd.map { min(max(0, start - $0), duration) } ?? duration
            addSample(Double(bytes) / (duration + pause))
        } else if bytes >= Self.minimumSampleBytes, let rate = measuredBytesPerSecond,
                  !blocked || (lastEnd.map { start - $0 >= duration } ?? false) {
            // Taken without waiting, or waiting less than the pause before it (the buffers may
            // then have run empty, the link idling while playback held frames back): the link
            // kept up and may be faster than thought. Creep up; once playback is paced at the
            // link's speed the pauses shrink below the waits and the writes measure it again.
            // (Without the second case a small buffer, where every frame waits, kept a low
            // estimate for good.)
            measuredBytesPerSecond = rate * 1.03
        }
        if let rate = bytesPerSecond {
            // Fluid model: the link works through each write after the ones before it.
            drainedAt = max(max(drainedAt, start) + Double(bytes) / rate, end)
        } else {
            drainedAt = end
        }
        lastBlocked = blocked
        lastEnd = end
    }

    private func addSample(_ rate: Double) {
        samples += 1
        if let old = measuredBytesPerSecond {
            // Falls quickly (frames must not queue), rises gently.
            measuredBytesPerSecond = rate < old ? 0.5 * old + 0.5 * rate : 0.8 * old + 0.2 * rate
        } else {
            measuredBytesPerSecond = rate
        }
    }

    /// Seconds until what was written has drained (0 when the link is idle).
    public func backlogSeconds(now: Double) -> Double { max(0, drainedAt - now) }

    /// True while more than `slack` seconds of earlier output are still on their way: a playing
    /// frame written now would queue behind them.
    public func isBusy(now: Double, slack: Double = 0.01) -> Bool {
        backlogSeconds(now: now) > slack
    }

    /// For `pleura doctor` and the side panel: "9.6 Mbit/s measured", "5 Mbit/s fixed", …
    public var summary: String {
        if let fixed = fixedBytesPerSecond { return Self.megabits(fixed) + " (fixed by --link / link_mbit)" }
        if let rate = measuredBytesPerSecond { return Self.megabits(rate) + " measured from \(samples) blocked writes" }
        return "not measured yet (no write has had to wait: the link keeps up)"
    }

    public static func megabits(_ bytesPerSecond: Double) -> String {
        let m = bytesPerSecond * 8 / 1_000_000
        return m >= 10 ? "\(Int(m.rounded())) Mbit/s" : "\((m * 10).rounded() / 10) Mbit/s"
    }
}
