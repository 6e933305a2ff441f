/// Pleura's version, printed by `pleura version` and written into the store's sessions.
public enum PleuraVersion {
    public static let string = "0.1.0"
}
