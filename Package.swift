// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "xdpnat",
    products: [
        .executable(name: "xdpnatd", targets: ["xdpnatd"]),
        .executable(name: "xdpnat", targets: ["xdpnat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // libbpf + libxdp, found through pkg-config.
        .systemLibrary(
            name: "CLibBPF",
            path: "Sources/CLibBPF",
            pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev", "libxdp-dev", "libelf-dev"])]
        ),
        // Formats libbpf's log (a va_list) for Swift.
        .target(name: "CBPFSupport", dependencies: ["CLibBPF"]),
        // bpf/include/xdpnat_abi.h: the one definition of every shared layout.
        .systemLibrary(name: "XDPNatABI", path: "Sources/XDPNatABI"),
        // Compiles bpf/*.bpf.c with clang -target bpf into the datapath's resources.
        .plugin(name: "BPFCompilerPlugin", capability: .buildTool(), path: "Plugins/BPFCompilerPlugin"),

        // Pure: addresses, prefixes, packets and checksums.
        .target(name: "XDPNatNet"),
        // Pure: custom resources, validation, allocator, reconciler.
        .target(
            name: "XDPNatModel",
            dependencies: ["XDPNatNet", .product(name: "Yams", package: "Yams")]
        ),
        // Kubernetes API client: config, list/watch informers, status patches, Lease election.
        .target(
            name: "XDPNatKube",
            dependencies: [
                "XDPNatModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // libbpf wrapper and the xdpnat datapath's typed maps.
        .target(
            name: "XDPNatDatapath",
            dependencies: ["CLibBPF", "CBPFSupport", "XDPNatABI", "XDPNatNet", "XDPNatModel"],
            plugins: ["BPFCompilerPlugin"]
        ),
        .executableTarget(
            name: "xdpnatd",
            dependencies: [
                "XDPNatDatapath", "XDPNatModel", "XDPNatKube", "CBPFSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "xdpnat",
            dependencies: [
                "XDPNatDatapath", "XDPNatModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Benchmarks (perf/): load generator, kernel NAT baselines, micro-benchmarks.
        .executableTarget(
            name: "xdpnat-bench",
            dependencies: [
                "XDPNatDatapath", "XDPNatModel", "XDPNatNet", "XDPNatABI", "CLibBPF", "CBPFSupport", "XDPNatTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "perf/Sources/xdpnat-bench"
        ),

        // Network namespaces, veths and privilege checks for the tests.
        .target(name: "XDPNatTestSupport", dependencies: ["XDPNatNet", "CBPFSupport"], path: "Tests/XDPNatTestSupport"),
        .testTarget(name: "XDPNatNetTests", dependencies: ["XDPNatNet"]),
        .testTarget(name: "XDPNatModelTests", dependencies: ["XDPNatModel", "XDPNatTestSupport"]),
        .testTarget(name: "XDPNatKubeTests", dependencies: ["XDPNatKube", "XDPNatModel", "XDPNatTestSupport"]),
        .testTarget(
            name: "XDPNatDatapathTests",
            dependencies: ["XDPNatDatapath", "XDPNatABI", "CLibBPF", "XDPNatTestSupport"]
        ),
        // Daemon and CLI as processes, with real traffic in network namespaces.
        .testTarget(
            name: "XDPNatIntegrationTests",
            dependencies: ["XDPNatModel", "XDPNatTestSupport", "xdpnatd", "xdpnat"]
        ),
    ]
)
