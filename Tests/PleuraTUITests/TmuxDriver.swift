import Foundation
import PleuraTestSupport

/// Runs a command in a private tmux server (its own socket, no user config) and drives it like a
/// person: keys in, screen text out. Each driver kills its server when done.
final class TmuxDriver {
    let socket = "pleura-test-\(getpid())-\(UUID().uuidString.prefix(6))"
    private let tmux: String

    /// Starts `command` (a shell command line; start it with `exec` so the pane's pid is the
    /// program's) in a `columns`×`rows` pane that stays after the program exits.
    init(command: String, columns: Int = 120, rows: Int = 40, environment: [String: String] = [:], cwd: URL) throws {
        guard let tmux = TestEnv.which("tmux") else { throw DriverError("tmux is not installed") }
        self.tmux = tmux
        let conf = cwd.appendingPathComponent("tmux-\(socket).conf")
        try "set -g remain-on-exit on\nset -g default-terminal tmux-256color\nset -g history-limit 0\n"
            .write(to: conf, atomically: true, encoding: .utf8)
        var args = ["-L", socket, "-f", conf.path, "new-session", "-d", "-s", "t", "-x", "\(columns)", "-y", "\(rows)", "-c", cwd.path]
        for (k, v) in environment.sorted(by: { $0.key < $1.key }) { args += ["-e", "\(k)=\(v)"] }
        args.append(command)
        // Not Foundation's Process: the tmux server forked by this client would inherit its pipes
        // (so reading them never ends), and the exited client was seen left unreaped. posix_spawn
        // with /dev/null and waitpid have neither problem.
        let status = try spawnAndWait([tmux] + args)
        guard status == 0 else { throw DriverError("tmux new-session failed (status \(status))") }
    }

    @discardableResult
    private func run(_ args: [String]) -> ProcessResult? {
        try? runProgram(tmux, ["-L", socket] + args)
    }

    /// The visible screen as text.
    func screen() -> String { run(["capture-pane", "-p", "-t", "t"])?.stdoutText ?? "" }

    /// The visible screen with its colour escapes (image cells are coloured; text is not).
    func screenWithEscapes() -> String { run(["capture-pane", "-p", "-e", "-t", "t"])?.stdoutText ?? "" }

    /// Sends one key: a tmux key name (`Right`, `C-r`, `Space`, `Enter`, `Escape`) or literal text.
    func send(_ key: String) {
        let named: Set<String> = ["Right", "Left", "Up", "Down", "Space", "Enter", "Escape", "BSpace", "C-r", "C-z", "C-c"]
        run(named.contains(key) ? ["send-keys", "-t", "t", key] : ["send-keys", "-t", "t", "-l", key])
    }

    /// Waits until `predicate(screen)` holds; the last screen, or nil on timeout.
    func wait(timeout: Double = 10, _ predicate: (String) -> Bool) -> String? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let s = screen()
            if predicate(s) { return s }
            usleep(20_000)
        }
        return nil
    }

    /// Sends a key and waits for the screen to change and then hold still (a capture can catch
    /// ncurses half-way through an update); the new screen, or nil when nothing changed.
    func press(_ key: String, timeout: Double = 5) -> String? {
        let before = screen()
        send(key)
        guard var current = wait(timeout: timeout, { $0 != before }) else { return nil }
        while true {
            usleep(30_000)
            let next = screen()
            if next == current { return current }
            current = next
        }
    }

    func format(_ f: String) -> String {
        (run(["display-message", "-p", "-t", "t", f])?.stdoutText ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var panePID: pid_t { pid_t(format("#{pane_pid}")) ?? -1 }
    var paneDead: Bool { format("#{pane_dead}") == "1" }
    var exitStatus: Int? { Int(format("#{pane_dead_status}")) }
    var alternateScreen: Bool { format("#{alternate_on}") == "1" }

    /// Resizes the window (the program gets SIGWINCH).
    func resize(columns: Int, rows: Int) { run(["resize-window", "-t", "t", "-x", "\(columns)", "-y", "\(rows)"]) }

    func close() { run(["kill-server"]) }
    deinit { close() }
}

/// Runs a program with stdin/stdout/stderr on /dev/null and returns its exit status.
func spawnAndWait(_ argv: [String]) throws -> Int32 {
    let pid = try spawn(argv)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status >> 8) & 0xff
}

/// Starts a program (stdin/stdout/stderr on /dev/null, default signal handling, `environment`
/// added to this process's less the names in `removing`, in `cwd`) and returns its pid. With
/// `terminal` (a pty's slave path) the program runs in a new session with that terminal as its
/// stdin/stdout/stderr and controlling terminal. posix_spawn rather than Foundation's Process:
/// under the test runner, Process was seen never noticing that a child had exited.
func spawn(_ argv: [String], environment: [String: String] = [:], removing: Set<String> = [], cwd: URL? = nil,
           terminal: String? = nil) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let terminal {
        // After setsid (done before the file actions), opening the pty makes it the controlling tty.
        posix_spawn_file_actions_addopen(&actions, 0, terminal, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)
    } else {
        for fd in [Int32(0), 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    // The test runner may ignore SIGCHLD; inherited, tmux would never learn its panes' exit status.
    var defaults = sigset_t()
    sigfillset(&defaults)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    let setsid: Int32 = terminal == nil ? 0 : 0x80   // POSIX_SPAWN_SETSID (glibc ≥ 2.26; not imported into Swift)
    posix_spawnattr_setflags(&attributes, Int16(Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) | setsid))
    var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { for p in cArgs { free(p) } }
    _ = cwd   // (no portable chdir action in glibc 2.36's headers; callers pass absolute paths)
    let env = ProcessInfo.processInfo.environment.filter { !removing.contains($0.key) }
        .merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
    var cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
    defer { for p in cEnv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, &attributes, &cArgs, &cEnv)
    guard rc == 0 else { throw DriverError("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
    return pid
}

/// Ends a spawned program: SIGTERM, then SIGKILL after `grace` seconds; reaps it.
func stop(_ pid: pid_t, grace: Double = 2) {
    kill(pid, SIGTERM)
    let end = Date().addingTimeInterval(grace)
    var status: Int32 = 0
    while Date() < end {
        if waitpid(pid, &status, WNOHANG) == pid { return }
        usleep(20_000)
    }
    kill(pid, SIGKILL)
    waitpid(pid, &status, 0)
}

struct DriverError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// What the side panel of the labelling screen shows, read back from screen text.
struct PanelReading: Equatable {
    var frame: Int
    var videoLevel: Bool
    var findings: [String: Bool?]
    var severity: Int?
    var quality: String?
    var note: String?
    var saved: Bool

    /// Parses the screen; nil when the panel is not there.
    static func parse(_ screen: String) -> PanelReading? {
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func panel(_ line: String) -> String {
            guard let bar = line.firstIndex(of: "│") else { return "" }
            return String(line[line.index(after: bar)...]).trimmingCharacters(in: .whitespaces)
        }
        let panelLines = lines.map(panel)
        guard let frameLine = panelLines.first(where: { $0.hasPrefix("Frame") }) else { return nil }
        let number = frameLine.dropFirst("Frame".count).trimmingCharacters(in: .whitespaces).split(separator: "/").first.flatMap { Int($0) }
        guard let frame = number else { return nil }
        var findings: [String: Bool?] = [:]
        for (name, label) in [("a_lines", "A-lines"), ("b1_lines", "B1 separate"), ("b2_lines", "B2 confluent"), ("consolidation", "Consolidation")] {
            guard let l = panelLines.first(where: { $0.contains(label) }) else { continue }
            findings[name] = l.hasPrefix("[x]") ? true : l.hasPrefix("[ ]") ? false : nil
        }
        func value(_ prefix: String) -> String? {
            guard let l = panelLines.first(where: { $0.hasPrefix(prefix) }) else { return nil }
            let v = l.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init)
            return v == "–" ? nil : v
        }
        var note: String? = nil
        if let l = panelLines.first(where: { $0.hasPrefix("Note") }), let q = l.firstIndex(of: "\"") {
            note = String(l[l.index(after: q)...].prefix { $0 != "\"" })
        }
        let video = panelLines.contains { $0.hasPrefix("Labels WHOLE VIDEO") }
        let saved = lines.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("saved:") }
        return PanelReading(frame: frame, videoLevel: video, findings: findings, severity: value("Severity").flatMap { Int($0) },
                            quality: value("Quality"), note: note, saved: saved)
    }
}
