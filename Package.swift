// swift-tools-version: 6.1
// Pleura: a terminal workstation for lung-ultrasound annotation and explainability review.
//
// Module graph (arrows only point down): PleuraCore → PleuraMedia / PleuraStore / PleuraRender /
// PleuraModel → PleuraPhantom → PleuraTUI → pleura. Each Swift module hides its C library; the C
// targets are thin (module map + shim header).
import PackageDescription

let package = Package(
    name: "Pleura",
    products: [
        .executable(name: "pleura", targets: ["pleura"]),
        // The libtorch shim is a separate shared library that PleuraModel opens with dlopen, so the
        // commands that need no model never pay libtorch's ~0.3 s of dynamic linking at start-up.
        .library(name: "PleuraTorchShim", type: .dynamic, targets: ["CPleuraTorch"]),
        // The DICOM shim (over DCMTK) likewise: PleuraMedia opens it on the first DICOM file, so
        // other commands never load DCMTK's ~25 libraries (ICU, libxml2, libtiff, ...).
        .library(name: "PleuraDicomShim", type: .dynamic, targets: ["CPleuraDicom"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // Already in the build through postgres-nio; PleuraCore hashes with its SHA-256 (BoringSSL).
        .package(url: "https://github.com/apple/swift-crypto.git", "3.9.0" ..< "6.0.0"),
    ],
    targets: [
        // MARK: C libraries
        // FFmpeg is not linked: Sources/CFFmpeg loads it with dlopen on first use (see its shim.h).
        // Headers come from libavformat-dev, libavcodec-dev, libswscale-dev, libavutil-dev.
        .target(name: "CFFmpeg"),
        .systemLibrary(name: "CSixel", pkgConfig: "libsixel", providers: [.apt(["libsixel-dev"])]),
        .systemLibrary(name: "CNcursesw", pkgConfig: "ncursesw", providers: [.apt(["libncursesw5-dev"])]),
        .target(
            name: "CPleuraTorch",
            cxxSettings: [
                .unsafeFlags(["-I/usr/include/torch/csrc/api/include"]),
                .define("_GLIBCXX_USE_CXX11_ABI", to: "1"),
            ],
            linkerSettings: [.linkedLibrary("torch"), .linkedLibrary("torch_cpu"), .linkedLibrary("c10")]
        ),

        // The DICOM shim's C API (header only: PleuraMedia imports its types and binds the
        // functions with dlsym) and the shim itself (DCMTK: libdcmtk-dev; JPEG 2000 frames with
        // OpenJPEG, libopenjp2-7-dev, which DCMTK 3.6.7 lacks).
        .target(name: "CPleuraDicomAPI"),
        .target(
            name: "CPleuraDicom",
            dependencies: ["CPleuraDicomAPI"],
            linkerSettings: [.linkedLibrary("dcmimage"), .linkedLibrary("dcmimgle"), .linkedLibrary("dcmjpeg"),
                             .linkedLibrary("dcmjpls"), .linkedLibrary("dcmdata"), .linkedLibrary("oflog"),
                             .linkedLibrary("ofstd"), .linkedLibrary("openjp2")]
        ),

        // MARK: Swift modules
        .target(name: "PleuraCore", dependencies: [.product(name: "TOMLKit", package: "TOMLKit"),
                                                  .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "PleuraMedia", dependencies: ["PleuraCore", "CFFmpeg", "CPleuraDicomAPI"]),
        .target(name: "PleuraStore", dependencies: ["PleuraCore", .product(name: "GRDB", package: "GRDB.swift"),
                                                   .product(name: "GRDBSQLite", package: "GRDB.swift")]),
        // The same store on a PostgreSQL server (issue 14); postgres-nio stays inside this module.
        .target(name: "PleuraStorePostgres", dependencies: ["PleuraCore", "PleuraStore",
                                                           .product(name: "PostgresNIO", package: "postgres-nio")]),
        .target(name: "PleuraRender", dependencies: ["PleuraCore", "CSixel"]),
        .target(name: "PleuraModel", dependencies: ["PleuraCore"]),
        .target(name: "PleuraPhantom", dependencies: ["PleuraCore", "PleuraMedia"]),
        .target(name: "PleuraTUI", dependencies: [
            "PleuraCore", "PleuraMedia", "PleuraStore", "PleuraRender", "PleuraModel", "PleuraPhantom", "CNcursesw",
        ]),
        .executableTarget(name: "pleura", dependencies: [
            "PleuraCore", "PleuraMedia", "PleuraStore", "PleuraStorePostgres", "PleuraRender", "PleuraModel", "PleuraPhantom", "PleuraTUI",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // MARK: Tests
        .target(name: "PleuraTestSupport", dependencies: ["PleuraCore"], path: "Tests/PleuraTestSupport"),
        .testTarget(name: "PleuraCoreTests", dependencies: ["PleuraCore", "PleuraTestSupport"]),
        .testTarget(name: "PleuraMediaTests", dependencies: ["PleuraMedia", "PleuraPhantom", "PleuraTestSupport"]),
        .testTarget(name: "PleuraStoreTests", dependencies: ["PleuraStore", "PleuraStorePostgres", "PleuraTestSupport"]),
        .testTarget(name: "PleuraRenderTests", dependencies: ["PleuraRender", "PleuraMedia", "PleuraTestSupport"]),
        .testTarget(name: "PleuraModelTests", dependencies: ["PleuraModel", "PleuraMedia", "PleuraPhantom", "PleuraTestSupport"]),
        // Golden/ holds expected outputs the tests read from the checkout (not bundled resources).
        .testTarget(name: "PleuraTUITests", dependencies: ["PleuraTUI", "PleuraTestSupport"], exclude: ["Golden"]),
        // Drives the built `pleura` executable as a user would (processes, tmux, xterm).
        .testTarget(name: "PleuraCLITests", dependencies: ["PleuraCore", "PleuraTestSupport"]),
    ],
    cxxLanguageStandard: .cxx17
)

// Fuzz harnesses (Fuzz/): built only by `make fuzz` (Scripts/fuzz.sh sets PLEURA_FUZZ=1 and builds
// with `-sanitize=fuzzer,address` in .build-fuzz), never by `swift build` or `swift test`.
// Each fuzz-NAME executable is a C driver defining libFuzzer's LLVMFuzzerTestOneInput, calling the
// Swift harness pleura_fuzz_NAME.
if Context.environment["PLEURA_FUZZ"] != nil {
    let names = ["csv", "jsonl", "labelstudio", "session", "keymap", "terminal", "media"]
    package.targets.append(.target(name: "PleuraFuzzHarnesses",
                                   dependencies: ["PleuraCore", "PleuraStore", "PleuraRender", "PleuraMedia"],
                                   path: "Fuzz/Harnesses"))
    for name in names {
        package.targets.append(.executableTarget(name: "fuzz-\(name)", dependencies: ["PleuraFuzzHarnesses"],
                                                 path: "Fuzz/Drivers/fuzz-\(name)"))
        package.products.append(.executable(name: "fuzz-\(name)", targets: ["fuzz-\(name)"]))
    }
}
