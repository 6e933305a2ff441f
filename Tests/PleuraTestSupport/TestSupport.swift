import Foundation
import PleuraCore

/// Where things are when the tests run, and how to run the real `pleura` executable.
///
/// Tests that need the real POCUS data call ``pocusDirectory`` and skip (with a message) when it
/// is nil. Tests that need a program (ffmpeg, tmux, xterm) call ``which(_:)`` the same way.
public enum TestEnv {
    /// The package root (the folder holding Package.swift), found from this source file.
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// The `pleura` executable built with the tests: `$PLEURA_BIN`, else beside the test bundle.
    public static let pleuraBinary: URL = {
        if let env = ProcessInfo.processInfo.environment["PLEURA_BIN"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("pleura")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir.deleteLastPathComponent()
        }
        return exe.deletingLastPathComponent().appendingPathComponent("pleura")
    }()

    /// `../shared/data/pocus` beside the checkout (or `$PLEURA_POCUS`), when it holds a manifest.
    public static let pocusDirectory: URL? = {
        let candidates: [String?] = [ProcessInfo.processInfo.environment["PLEURA_POCUS"],
                          packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/pocus").path]
        for case let path? in candidates where !path.isEmpty {
            if FileManager.default.fileExists(atPath: path + "/manifest.csv") { return URL(fileURLWithPath: path) }
        }
        return nil
    }()

    /// The message a test prints when it skips for lack of the POCUS data.
    public static let pocusMissing = "skipped: ../shared/data/pocus is absent (set PLEURA_POCUS to run the real-data tests)"

    /// Full path of a program on PATH, or nil.
    public static func which(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let p = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// A fresh empty directory under the system temp folder, removed by the caller if it likes.
    public static func makeTempDirectory(_ label: String = "pleura-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// The outcome of running a program to completion.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs a program with arguments, waits for it and collects both outputs (read concurrently, so a
/// chatty child cannot dead-lock on a full pipe).
public func runProgram(_ executable: String, _ arguments: [String], cwd: URL? = nil,
                       environment: [String: String]? = nil, stdin: Data? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let cwd { process.currentDirectoryURL = cwd }
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = inPipe
    try process.run()
    if let stdin { inPipe.fileHandleForWriting.write(stdin) }
    try? inPipe.fileHandleForWriting.close()
    let box = OutputBox()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        box.setErr(errPipe.fileHandleForReading.readDataToEndOfFile())
        group.leave()
    }
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: out, stderr: box.err)
}

/// Runs the built `pleura` with arguments.
public func runPleura(_ arguments: [String], cwd: URL? = nil, environment: [String: String]? = nil,
                      stdin: Data? = nil) throws -> ProcessResult {
    try runProgram(TestEnv.pleuraBinary.path, arguments, cwd: cwd, environment: environment, stdin: stdin)
}

private final class OutputBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _err = Data()
    func setErr(_ d: Data) { lock.lock(); _err = d; lock.unlock() }
    var err: Data { lock.lock(); defer { lock.unlock() }; return _err }
}
