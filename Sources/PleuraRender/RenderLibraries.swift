import CSixel

/// The libsixel Pleura was built against, for `pleura doctor`.
public enum RenderLibraries {
    public static let sixelVersion: String = LIBSIXEL_VERSION
}
