import Foundation

/// Where Pleura keeps per-user files. One place, so every module agrees.
///
/// - cache: `$PLEURA_CACHE_DIR`, else `$XDG_CACHE_HOME/pleura`, else `~/.cache/pleura`
///   (frame indexes, generated phantom clips). Safe to delete at any time.
/// - config: `$XDG_CONFIG_HOME/pleura`, else `~/.config/pleura` (user keymap overrides).
public enum AppPaths {
    public static var cacheDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["PLEURA_CACHE_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("pleura") }
        return home.appendingPathComponent(".cache/pleura")
    }

    public static var configDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_CONFIG_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("pleura") }
        return home.appendingPathComponent(".config/pleura")
    }

    /// A sub-folder of the cache, created on demand.
    public static func cacheSubdirectory(_ name: String) throws -> URL {
        let url = cacheDirectory.appendingPathComponent(name)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw PleuraError(file: url.path, "cannot create the cache folder (\(error.localizedDescription)); set PLEURA_CACHE_DIR to a writable folder")
        }
        return url
    }

    private static var home: URL {
        if let h = ProcessInfo.processInfo.environment["HOME"], !h.isEmpty { return URL(fileURLWithPath: h) }
        return FileManager.default.homeDirectoryForCurrentUser
    }
}
