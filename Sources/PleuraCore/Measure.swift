import Foundation

/// Timing and memory measurement for `pleura bench` (never for unit tests: speed targets are
/// measured by the benchmark suite only).
public enum Measure {
    /// Monotonic time in seconds.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Seconds that `body` takes.
    public static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let t0 = now()
        try body()
        return now() - t0
    }

    /// Peak resident set size of this process so far, in bytes (getrusage's ru_maxrss).
    public static func peakRSSBytes() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }

    /// Current resident set size in bytes (from /proc/self/statm), for memory deltas.
    public static func currentRSSBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// Summary of repeated timings (seconds).
public struct TimingSummary: Sendable, Equatable {
    public let count: Int
    public let mean: Double
    public let p50: Double
    public let p99: Double
    public let min: Double
    public let max: Double

    public init(_ samples: [Double]) {
        precondition(!samples.isEmpty, "no samples")
        let sorted = samples.sorted()
        count = sorted.count
        mean = sorted.reduce(0, +) / Double(sorted.count)
        p50 = TimingSummary.percentile(sorted, 0.50)
        p99 = TimingSummary.percentile(sorted, 0.99)
        min = sorted.first!
        max = sorted.last!
    }

    /// Linear interpolation between closest ranks (numpy's default).
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        if sorted.count == 1 { return sorted[0] }
        let pos = q * Double(sorted.count - 1)
        let lo = Int(pos.rounded(.down)), hi = Swift.min(lo + 1, sorted.count - 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - Double(lo))
    }
}

/// One line of `pleura bench`'s table: a measured figure beside its target.
public struct BenchResult: Sendable, Codable {
    public var suite: String
    public var name: String
    public var value: Double
    public var unit: String
    /// The target as text (e.g. "≤ 2 ms"), or nil when the figure is informational.
    public var target: String?
    /// Whether the figure meets the target; nil when there is no target.
    public var pass: Bool?
    public var note: String?

    public init(suite: String, name: String, value: Double, unit: String,
                target: String? = nil, pass: Bool? = nil, note: String? = nil) {
        self.suite = suite; self.name = name; self.value = value; self.unit = unit
        self.target = target; self.pass = pass; self.note = note
    }
}
