import Foundation
import XCTest
@testable import GatePeerCore
@testable import GatePeerKernel
import CNetlink

/// "N of M applied" counts changes, not requests: a change of two requests that both
/// fail is one failed change, and the other changes still count as applied.
final class ApplyReportTests: XCTestCase {
    func testOutcomesPerChange() {
        let e = KernelError(object: "x", errno: ENODEV)
        // Change 0 failed twice (a link change is two requests), 1 applied, 2 and 3 were
        // skipped for their missing link (reported once, under 2).
        let r = Kernel.ApplyReport(count: 4, failures: [(ChangeTag(0), e), (ChangeTag(0), e), (ChangeTag(2), e)],
                                   skipped: [ChangeTag(2), ChangeTag(3)])
        XCTAssertEqual(r.outcomes, [.failed, .applied, .skipped, .skipped])
        XCTAssertEqual(r.applied, 1)
        XCTAssertEqual(r.failureTags, [ChangeTag(0), ChangeTag(0), ChangeTag(2)])
        // More failures than changes never goes below zero.
        let all = Kernel.ApplyReport(count: 1, failures: [(ChangeTag(0), e), (ChangeTag(0), e), (ChangeTag(0), e)], skipped: [])
        XCTAssertEqual(all.applied, 0)
    }

    /// The real thing, in a namespace of its own (root only): a link change whose two
    /// requests both fail (no such device) and an address that goes in. On c2be3b6 the
    /// count was changes - failures = 2 - 2 = 0 (and -1 for the link change alone, before
    /// the clamp to 0), although the address was applied.
    func testApplyCountsChangesNotRequests() throws {
        try XCTSkipUnless(getuid() == 0, "needs root for a network namespace of its own")
        let ns = "gpt-codec-\(UInt32.random(in: 0..<UInt32.max))"
        XCTAssertEqual(Self.run(["ip", "netns", "add", ns]), 0)
        defer { _ = Self.run(["ip", "netns", "del", ns]) }
        XCTAssertEqual(Self.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]), 0)

        let spec = LinkSpec(name: "gp-gone", alias: "gatepeer:gp-gone", vxlanId: 7, port: 4789, portRange: PortRange(low: 4789, high: 4789),
                            underlayName: "lo", underlayIndex: 1, local: IPAddress("127.0.0.1")!, mtu: 1400,
                            mac: MACAddress("02:00:00:00:00:07")!, learning: false)
        let attrs = [LinkAttribute.local, .mtu].map { Plan.AttributeChange(attribute: $0, old: "a", new: "b") }
        let plan = Plan(changes: [.changeLink(spec, index: 9999, attrs), .addAddress(link: "lo", IPPrefix("10.99.0.1/32")!)], blockers: [])
        let observed = ObservedState(links: [ObservedLink(index: 1, name: "lo")])

        let report = try Self.inNamespace(ns) { try Kernel().apply(plan, observed: observed) }
        XCTAssertEqual(report.failures.count, 2, "\(report.failures)")
        XCTAssertEqual(report.applied, 1)
        XCTAssertEqual(report.outcomes, [.failed, .applied])
        // The kernel holds the address the report counts as applied.
        let pipe = Pipe()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = ["netns", "exec", ns, "ip", "-j", "addr", "show", "dev", "lo"]
        p.standardOutput = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertTrue(out.contains("\"local\":\"10.99.0.1\""), out)
    }

    /// An attribute the kernel's policy refuses (IFLA_MTU one byte long) comes back with
    /// errno, message and the attribute's offset in the request (NLMSGERR_ATTR_OFFS).
    func testRefusalNamesTheAttribute() throws {
        try XCTSkipUnless(getuid() == 0, "needs root for a network namespace of its own")
        let ns = "gpt-codec-\(UInt32.random(in: 0..<UInt32.max))"
        XCTAssertEqual(Self.run(["ip", "netns", "add", ns]), 0)
        defer { _ = Self.run(["ip", "netns", "del", ns]) }
        let failures = try Self.inNamespace(ns) { () -> [NetlinkFailureSummary] in
            let socket = try NetlinkSocket()
            let batch = RequestBatch(socket: socket)
            batch.add("set lo's mtu", tag: ChangeTag(3), type: RtnetlinkMessage.newLink) { w in
                var ifi = ifinfomsg()
                ifi.ifi_index = 1
                w.fixedHeader(ifi)
                w.attribute(IFLA.mtu, [0x05])
            }
            batch.finish()
            return try socket.send(batch).map { NetlinkFailureSummary(tag: $0.tag, errno: $0.error.errno, message: $0.error.kernelMessage, offset: $0.error.attributeOffset) }
        }
        XCTAssertEqual(failures.count, 1)
        let f = try XCTUnwrap(failures.first)
        XCTAssertEqual(f.tag, ChangeTag(3))
        XCTAssertNotNil(f.errno)
        XCTAssertNotEqual(f.errno, 0)
        // nlmsghdr (16) + ifinfomsg (16): the first attribute starts at byte 32.
        XCTAssertEqual(f.offset, 32, "\(f)")
    }

    struct NetlinkFailureSummary: Sendable {
        let tag: ChangeTag
        let errno: Int32?
        let message: String?
        let offset: UInt32?
    }

    static func run(_ argv: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// Runs `body` on a thread that entered namespace `ns` (setns affects that thread
    /// only; sockets it opens stay in the namespace).
    static func inNamespace<T>(_ ns: String, _ body: @escaping @Sendable () throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            defer { done.signal() }
            let fd = open("/run/netns/\(ns)", O_RDONLY | O_CLOEXEC)
            guard fd >= 0, enterNamespace(fd, 0x4000_0000 /* CLONE_NEWNET */) == 0 else {
                box.result = .failure(KernelError(object: "setns \(ns)", errno: errno))
                return
            }
            close(fd)
            box.result = Result { try body() }
        }
        t.start()
        done.wait()
        return try box.result!.get()
    }
}

/// The result of work done on another thread.
final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// setns(2), which Glibc's module map leaves out (it needs _GNU_SOURCE).
@_silgen_name("setns") private func enterNamespace(_ fd: Int32, _ type: Int32) -> Int32
