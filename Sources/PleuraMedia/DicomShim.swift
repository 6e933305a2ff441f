import CPleuraDicomAPI
import Foundation
import PleuraCore

#if canImport(Glibc)
import Glibc
#endif

/// The DICOM shim (`libPleuraDicomShim.so`, the C++ target CPleuraDicom over DCMTK), opened with
/// `dlopen` on the first DICOM file, like FFmpeg and the libtorch shim: DCMTK pulls in ~25 shared
/// libraries that commands reading MP4 or no media at all should not pay for.
///
/// PleuraMedia takes only the types from `Sources/CPleuraDicomAPI/include/pleura_dicom.h`; the
/// functions are bound here with `dlsym`.
final class DicomShim: @unchecked Sendable {
    static let apiVersion: Int32 = 1
    static let libraryName = "libPleuraDicomShim.so"

    typealias VersionFn = @convention(c) () -> Int32
    typealias OpenFn = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>, Int) -> OpaquePointer?
    typealias CloseFn = @convention(c) (OpaquePointer?) -> Void
    typealias InfoFn = @convention(c) (OpaquePointer, UnsafeMutablePointer<pleura_dicom_info>) -> Void
    typealias RegionFn = @convention(c) (OpaquePointer, Int32, UnsafeMutablePointer<pleura_dicom_region>) -> Int32
    typealias StringFn = @convention(c) (OpaquePointer, UInt16, UInt16, Int32, UInt16, UInt16,
                                         UnsafeMutablePointer<CChar>, Int) -> Int32
    typealias DecodeFn = @convention(c) (OpaquePointer, Int32, UnsafeMutablePointer<UInt8>, Int,
                                         UnsafeMutablePointer<CChar>, Int) -> Int32
    typealias DirFn = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>?, Int,
                                      UnsafeMutablePointer<CChar>, Int) -> Int

    let open: OpenFn
    let close: CloseFn
    let info: InfoFn
    let region: RegionFn
    let string: StringFn
    let decode: DecodeFn
    let dicomdirImageFiles: DirFn

    /// The process-wide shim, opened once.
    static let shared: Result<DicomShim, PleuraError> = {
        do { return .success(try DicomShim.load()) } catch let e as PleuraError { return .failure(e) } catch {
            return .failure(PleuraError(file: libraryName, "cannot load the DICOM shim: \(error)"))
        }
    }()

    /// The shim, or the one-line reason it cannot be loaded, about `file`.
    static func get(for file: String) throws -> DicomShim {
        switch shared {
        case .success(let shim): return shim
        case .failure(let e): throw PleuraError(file: file, "cannot read DICOM: " + e.reason)
        }
    }

    /// The NUL-terminated text a shim call wrote into `buffer`.
    static func message(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `$PLEURA_DICOM_SHIM`, beside the running executable (SwiftPM's `.build/<config>/`), `../lib/`
    /// from it, then the dynamic linker's search path.
    static func candidatePaths() -> [String] {
        var paths: [String] = []
        if let env = ProcessInfo.processInfo.environment["PLEURA_DICOM_SHIM"], !env.isEmpty { paths.append(env) }
        let exeDir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        paths.append(exeDir.appendingPathComponent(libraryName).path)
        paths.append(exeDir.deletingLastPathComponent().appendingPathComponent("lib/\(libraryName)").path)
        paths.append(libraryName)
        return paths
    }

    private init(path: String, handle: UnsafeMutableRawPointer) throws {
        func sym<T>(_ name: String, _: T.Type) throws -> T {
            guard let p = dlsym(handle, name) else {
                throw PleuraError(file: path, "the DICOM shim lacks \(name): rebuild Pleura (swift build)")
            }
            return unsafeBitCast(p, to: T.self)
        }
        let version = try sym("pleura_dicom_api_version", VersionFn.self)()
        guard version == Self.apiVersion else {
            throw PleuraError(file: path, "the DICOM shim speaks API version \(version), this pleura needs \(Self.apiVersion): rebuild Pleura (swift build)")
        }
        open = try sym("pleura_dicom_open", OpenFn.self)
        close = try sym("pleura_dicom_close", CloseFn.self)
        info = try sym("pleura_dicom_get_info", InfoFn.self)
        region = try sym("pleura_dicom_get_region", RegionFn.self)
        string = try sym("pleura_dicom_get_string", StringFn.self)
        decode = try sym("pleura_dicom_decode_rgb", DecodeFn.self)
        dicomdirImageFiles = try sym("pleura_dicomdir_image_files", DirFn.self)
    }

    private static func load() throws -> DicomShim {
        var errors: [String] = []
        for path in candidatePaths() {
            if path.contains("/") && !FileManager.default.fileExists(atPath: path) { continue }
            if let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) {
                return try DicomShim(path: path, handle: handle)
            }
            errors.append(dlerror().map { String(cString: $0) } ?? path)
        }
        let why = errors.first.map { " (" + $0 + ")" } ?? ""
        throw PleuraError(file: libraryName, "the DICOM shim cannot be loaded\(why); build it with `swift build` (product PleuraDicomShim, needs libdcmtk-dev) or set PLEURA_DICOM_SHIM")
    }
}
