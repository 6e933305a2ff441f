import Foundation
import PleuraCore

/// Where Pleura finds its embedded model without configuration.
public enum Model {
    /// File name of the embedded default model (its card is `pleura-lus-v2.json` beside it): v2,
    /// the scan-sector model, which beat v1 on the leave-one-source-out folds (README, "The
    /// embedded model"); `Models/pleura-lus-v1.pt` stays beside it for `--model`.
    public static let defaultModelName = "pleura-lus-v2.pt"

    /// The embedded model: `$PLEURA_MODEL` if set, else `Models/pleura-lus-v2.pt` in the first of:
    /// the folders above the running executable (a checkout's `.build/<config>/pleura` finds the
    /// repository's `Models/`), `share/pleura/` beside an installed `bin/`, the current directory.
    /// Nil when none exists.
    public static var defaultModelURL: URL? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["PLEURA_MODEL"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        var candidates: [URL] = []
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent("Models/\(defaultModelName)"))
            candidates.append(dir.appendingPathComponent("share/pleura/Models/\(defaultModelName)"))
            dir.deleteLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("Models/\(defaultModelName)"))
        return candidates.first { fm.fileExists(atPath: $0.path) }
    }

    /// The model file a command or session names: a path, or nil / `"embedded"` for the embedded
    /// model (``defaultModelURL``). The one place that decides it, for every command and the TUI.
    public static func url(forPath path: String?) throws -> URL {
        if let path, path != "embedded" { return URL(fileURLWithPath: path) }
        guard let found = defaultModelURL else {
            throw PleuraError(file: defaultModelName, "embedded model not found (looked above the executable, "
                              + "in share/pleura/Models and ./Models); pass --model PATH, set [model] path in the session, or set PLEURA_MODEL")
        }
        return found
    }

    /// libtorch's intra-op thread count: `explicit` (a --threads flag), else `$PLEURA_THREADS`,
    /// else 1 (the right choice on a shared machine; 2 gains little for one frame at a time).
    public static func threadCount(_ explicit: Int? = nil) throws -> Int {
        if let explicit {
            guard explicit >= 1 else { throw PleuraError(file: nil, "--threads must be at least 1") }
            return explicit
        }
        guard let text = ProcessInfo.processInfo.environment["PLEURA_THREADS"], !text.isEmpty else { return 1 }
        guard let n = Int(text), n >= 1 else {
            throw PleuraError(file: nil, "PLEURA_THREADS=\(SafeText.sanitize(text)) is not a thread count; use a whole number from 1")
        }
        return n
    }

    /// Loads the model `path` names (see ``url(forPath:)``) with ``threadCount(_:)`` threads.
    public static func load(path: String?, threads: Int? = nil) throws -> ModelRuntime {
        try ModelRuntime.load(url(forPath: path), threads: threadCount(threads))
    }
}
