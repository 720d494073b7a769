// swift-tools-version:6.0
// gatepeer: the customer-side peer of a VPG private network.
// No package dependencies by design: the toolchain and Debian's C libraries only.
import PackageDescription

let package = Package(
    name: "gatepeer",
    products: [
        .executable(name: "gatepeer", targets: ["gatepeer"]),
    ],
    targets: [
        .target(name: "GatePeerCore"),
        // The kernel's uapi netlink headers; gatepeer encodes and decodes netlink itself.
        .systemLibrary(name: "CNetlink"),
        .systemLibrary(
            name: "CNftables",
            pkgConfig: "libnftables",
            providers: [.apt(["libnftables-dev"])]
        ),
        // The wait(2) status macros and errno, which Swift cannot import (System layer).
        .target(name: "CSystem"),
        .target(name: "GatePeerKernel", dependencies: ["GatePeerCore", "CNetlink", "CNftables", "CSystem"]),
        .executableTarget(name: "gatepeer", dependencies: ["GatePeerCore", "GatePeerKernel"]),
        // Golden renders and the invalid-config corpus are read through #filePath, not
        // bundled; the kernel tests read the corpus from here too.
        .testTarget(name: "GatePeerCoreTests", dependencies: ["GatePeerCore"], exclude: ["Golden", "InvalidConfigs"]),
        .testTarget(name: "GatePeerKernelTests", dependencies: ["GatePeerCore", "GatePeerKernel"]),
        // Root-free: the netlink codec against golden bytes and captured dumps (read
        // through #filePath, like the core golden renders).
        .testTarget(name: "GatePeerKernelUnitTests", dependencies: ["GatePeerKernel", "GatePeerCore"], exclude: ["Fixtures"]),
    ]
)
