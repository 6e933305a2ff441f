import Foundation
import PleuraCore

#if canImport(Glibc)
import Glibc
#endif

/// The libtorch shim (`libPleuraTorchShim.so`, the C++ target CPleuraTorch), opened with `dlopen` on
/// first use so that commands which need no model never load libtorch's ~300 shared libraries.
///
/// PleuraModel does not link CPleuraTorch: the C function types are declared here and bound with
/// `dlsym`. The API they mirror is `Sources/CPleuraTorch/include/pleura_torch.h`.
final class TorchShim: @unchecked Sendable {
    /// The API version this Swift code speaks (`pleura_torch_api_version()`).
    static let apiVersion: Int32 = 2

    typealias VersionFn = @convention(c) () -> Int32
    typealias SetThreadsFn = @convention(c) (Int32) -> Void
    typealias GetThreadsFn = @convention(c) () -> Int32
    typealias LoadFn = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>, Int) -> OpaquePointer?
    typealias FreeFn = @convention(c) (OpaquePointer?) -> Void
    typealias RunFn = @convention(c) (OpaquePointer, UnsafePointer<Float>, Int32, Int32, Int32,
                                      UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, Int32,
                                      UnsafeMutablePointer<CChar>, Int) -> OpaquePointer?
    typealias CountFn = @convention(c) (OpaquePointer) -> Int32
    typealias NameFn = @convention(c) (OpaquePointer, Int32) -> UnsafePointer<CChar>?
    typealias SizeFn = @convention(c) (OpaquePointer, Int32) -> Int64
    typealias LogitsFn = @convention(c) (OpaquePointer, Int32) -> UnsafePointer<Float>?
    typealias ShapeFn = @convention(c) (OpaquePointer, UnsafeMutablePointer<Int64>, UnsafeMutablePointer<Int64>,
                                        UnsafeMutablePointer<Int64>) -> Void
    typealias FeaturesFn = @convention(c) (OpaquePointer) -> UnsafePointer<Float>?

    let path: String
    let setThreads: SetThreadsFn
    let getThreads: GetThreadsFn
    let load: LoadFn
    let free: FreeFn
    let run: RunFn
    let resultFree: FreeFn
    let headCount: CountFn
    let headName: NameFn
    let headSize: SizeFn
    let headLogits: LogitsFn
    let featuresShape: ShapeFn
    let features: FeaturesFn
    let gradient: LogitsFn

    /// The process-wide shim, opened once (thread-safe lazy initialisation of a static).
    static let shared: Result<TorchShim, PleuraError> = {
        do { return .success(try TorchShim.open()) } catch let e as PleuraError { return .failure(e) } catch {
            return .failure(PleuraError(file: libraryName, "cannot load the libtorch shim: \(error)"))
        }
    }()

    /// The NUL-terminated message a shim call wrote into `buffer`.
    static func message(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Places tried in order: `$PLEURA_TORCH_SHIM`, beside the running executable (SwiftPM puts the
    /// product in the same `.build/<config>/` folder), `../lib/` from it (an installed layout), then
    /// the dynamic linker's own search path.
    static func candidatePaths() -> [String] {
        var paths: [String] = []
        if let env = ProcessInfo.processInfo.environment["PLEURA_TORCH_SHIM"], !env.isEmpty { paths.append(env) }
        let exeDir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        paths.append(exeDir.appendingPathComponent(libraryName).path)
        paths.append(exeDir.deletingLastPathComponent().appendingPathComponent("lib/\(libraryName)").path)
        paths.append(libraryName)
        return paths
    }

    static let libraryName = ModelLibraries.shimLibraryName

    private init(path: String, handle: UnsafeMutableRawPointer) throws {
        func sym<T>(_ name: String, _: T.Type) throws -> T {
            guard let p = dlsym(handle, name) else {
                throw PleuraError(file: path, "libtorch shim lacks \(name): rebuild Pleura (swift build)")
            }
            return unsafeBitCast(p, to: T.self)
        }
        self.path = path
        let version = try sym("pleura_torch_api_version", VersionFn.self)()
        guard version == Self.apiVersion else {
            throw PleuraError(file: path, "libtorch shim speaks API version \(version), this pleura needs "
                              + "\(Self.apiVersion): rebuild Pleura (swift build)")
        }
        setThreads = try sym("pleura_torch_set_threads", SetThreadsFn.self)
        getThreads = try sym("pleura_torch_get_threads", GetThreadsFn.self)
        load = try sym("pleura_torch_load", LoadFn.self)
        free = try sym("pleura_torch_free", FreeFn.self)
        run = try sym("pleura_torch_run", RunFn.self)
        resultFree = try sym("pleura_torch_result_free", FreeFn.self)
        headCount = try sym("pleura_torch_result_head_count", CountFn.self)
        headName = try sym("pleura_torch_result_head_name", NameFn.self)
        headSize = try sym("pleura_torch_result_head_size", SizeFn.self)
        headLogits = try sym("pleura_torch_result_head_logits", LogitsFn.self)
        featuresShape = try sym("pleura_torch_result_features_shape", ShapeFn.self)
        features = try sym("pleura_torch_result_features", FeaturesFn.self)
        gradient = try sym("pleura_torch_result_gradient", LogitsFn.self)
    }

    private static func open() throws -> TorchShim {
        var errors: [String] = []
        for path in candidatePaths() {
            if path.contains("/") && !FileManager.default.fileExists(atPath: path) { continue }
            if let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) {
                openedLock.lock(); opened = true; openedLock.unlock()
                return try TorchShim(path: path, handle: handle)
            }
            errors.append(dlerror().map { String(cString: $0) } ?? path)
        }
        let why = errors.first.map { ": " + $0 } ?? ""
        throw PleuraError(file: libraryName, "cannot load the libtorch shim\(why); build it with `swift build` "
                          + "(product PleuraTorchShim, needs libtorch-dev) or set PLEURA_TORCH_SHIM")
    }

    /// Whether libtorch is loaded in this process (true only after a model was used).
    static var isLoaded: Bool {
        openedLock.lock(); defer { openedLock.unlock() }
        return opened
    }
    nonisolated(unsafe) private static var opened = false
    private static let openedLock = NSLock()
}
