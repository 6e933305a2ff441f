import CNcursesw

/// The ncurses Pleura's screens run on, for `pleura doctor`.
public enum TUILibraries {
    public static var ncursesVersion: String { String(cString: curses_version()) }
}
