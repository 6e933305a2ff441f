import GRDB

/// The SQLite Pleura's store runs on, for `pleura doctor`.
public enum StoreLibraries {
    public static var sqliteVersion: String {
        let version = try? DatabaseQueue().read { try String.fetchOne($0, sql: "SELECT sqlite_version()") }
        return version ?? "unknown"
    }
}
