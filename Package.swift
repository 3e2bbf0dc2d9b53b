// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Blacktail",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "blacktail", targets: ["blacktail"]),
        .library(name: "PipelineLanguage", targets: ["PipelineLanguage"]),
        .library(name: "BlacktailOps", targets: ["BlacktailOps"]),
        .library(name: "HDF5", targets: ["HDF5"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // libyaml from the system (apt: libyaml-dev), read event by event so that every node keeps
        // its position and no input can exhaust the stack.
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        // HDF5 from the system (apt: libhdf5-dev), behind a shim for the macros Swift cannot import.
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]
        ),
        // A Swift layer over HDF5: files, groups, datasets, attributes, partial I/O. No HDF5 C type
        // appears in its API.
        .target(
            name: "HDF5",
            dependencies: ["CHDF5"],
            swiftSettings: swiftSettings
        ),
        // OpenBLAS from the system (apt: libopenblas-dev).
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Dense Float32 matrices over OpenBLAS, the BLAS thread budget, and the numeric helpers the
        // training frameworks share.
        .target(
            name: "BlacktailNumerics",
            dependencies: ["COpenBLAS"],
            swiftSettings: swiftSettings
        ),
        // The dataset format (docs/formats.md), CSV import, and the data transformations, over HDF5.
        .target(
            name: "BlacktailData",
            dependencies: [
                "HDF5",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The training frameworks, their checkpoints and metrics, over Numerics and the dataset format.
        .target(
            name: "Frameworks",
            dependencies: ["BlacktailNumerics", "BlacktailData", "HDF5"],
            swiftSettings: swiftSettings
        ),
        // The pipeline language: YAML with source positions, expressions, diagnostics,
        // the compiler to a validated plan, and the plan's renderings. No I/O beyond reading a file.
        .target(
            name: "PipelineLanguage",
            dependencies: [
                "CYAML",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The op protocol, the context the engine gives an op, and the built-in catalogue.
        .target(
            name: "BlacktailOps",
            dependencies: [
                "PipelineLanguage",
                "BlacktailData",
                "HDF5",
                "BlacktailNumerics",
                "Frameworks",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The engine: the durable queue (a pure state machine over a store interface, SQLite
        // here), the content-addressed artifact store, workers that execute ops and commands,
        // the cache, run records and schedules.
        .target(
            name: "Engine",
            dependencies: [
                "PipelineLanguage",
                "BlacktailOps",
                "BlacktailData",
                "Frameworks",
                "HDF5",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The cluster: the coordinator's HTTP API over a store (Hummingbird), and the agent's
        // client of it (AsyncHTTPClient), which runs tasks with the engine's own worker.
        .target(
            name: "Cluster",
            dependencies: [
                "Engine",
                "BlacktailOps",
                "PipelineLanguage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command-line tool: argument parsing and output only.
        .executableTarget(
            name: "blacktail",
            dependencies: [
                "PipelineLanguage",
                "BlacktailOps",
                "BlacktailData",
                "Engine",
                "Cluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Swift side of benchmarks/hdf5 (run by hand; see benchmarks/README.md).
        .executableTarget(
            name: "blacktail-hdf5-benchmark",
            dependencies: ["BlacktailData"],
            path: "benchmarks/hdf5/Sources",
            swiftSettings: swiftSettings
        ),
        // The Swift side of benchmarks/frameworks (run by hand; see benchmarks/README.md).
        .executableTarget(
            name: "blacktail-frameworks-benchmark",
            dependencies: ["BlacktailData", "Frameworks", "BlacktailNumerics"],
            path: "benchmarks/frameworks/Sources",
            swiftSettings: swiftSettings
        ),
        // The Swift side of benchmarks/engine (run by hand; see benchmarks/README.md).
        .executableTarget(
            name: "blacktail-engine-benchmark",
            dependencies: ["Engine", "BlacktailOps", "PipelineLanguage", .product(name: "Subprocess", package: "swift-subprocess")],
            path: "benchmarks/engine/Sources",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PipelineLanguageTests",
            dependencies: ["PipelineLanguage", "BlacktailOps"],
            exclude: ["Golden"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HDF5Tests",
            dependencies: ["HDF5"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BlacktailDataTests",
            dependencies: [
                "BlacktailData",
                "Frameworks",
                "BlacktailOps",
                "HDF5",
                "PipelineLanguage",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FrameworksTests",
            dependencies: ["Frameworks", "BlacktailNumerics", "BlacktailData", "HDF5"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: [
                "Engine", "Cluster", "PipelineLanguage", "BlacktailOps", "BlacktailData", "Frameworks", "blacktail",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BlacktailCLITests",
            dependencies: ["blacktail"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ]
)
