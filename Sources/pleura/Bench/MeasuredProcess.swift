import Foundation
import PleuraCore

/// The one way the benchmarks run another program: posix_spawn + wait4, stdout to /dev/null,
/// stderr kept (for error messages), and the child's own wall time, CPU time and peak RSS.
///
/// Not Foundation's Process: on Linux its waitUntilExit polls a run loop, so every run it timed
/// came out near 50 ms (`pleura version` measured 50 ms through it and 6.5 ms this way), which
/// hid how fast short processes such as img2sixel really are.
enum MeasuredProcess {
    struct Outcome {
        var status: Int32
        /// Wall-clock seconds from spawn to exit.
        var seconds: Double
        /// User + system CPU seconds of this child alone.
        var cpuSeconds: Double
        var maxRSSBytes: Int
        /// The last 4 KB the program wrote to stderr.
        var stderr: String
    }

    /// Runs `executable` (an absolute path) with `arguments`; `environment` entries are added to
    /// this process's environment. Throws only when the program cannot be started.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        var template = Array("/tmp/pleura-bench-stderr.XXXXXX".utf8CString)
        let errFD = mkstemp(&template)
        guard errFD >= 0 else { throw PleuraError(file: "/tmp", "cannot create a temporary file for a benchmark's stderr") }
        let errPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { close(errFD); unlink(errPath) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, errFD, 2)

        let env = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }

        var pid: pid_t = 0
        let t0 = Measure.now()
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard rc == 0 else { throw PleuraError(file: executable, "cannot start: \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let seconds = Measure.now() - t0

        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let errBytes = (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data()
        return Outcome(status: exitStatus, seconds: seconds, cpuSeconds: s(usage.ru_utime) + s(usage.ru_stime),
                       maxRSSBytes: usage.ru_maxrss * 1024, stderr: String(decoding: errBytes.suffix(4096), as: UTF8.self))
    }

    /// The full path of `program` on PATH, if it is installed.
    static func which(_ program: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}
