import Foundation
import GatePeerCore
import XCTest

/// Issue 12 (perf): the DNS forwarder asked upstream on a thread per UDP query (up to 64,
/// 16 per device), so a device flooding a slow name held 16 threads of the daemon. Its UDP
/// queries now wait on dispatch sources: the daemon's thread count stays that of an idle
/// one while they are in flight, and other devices are still answered.
extension DaemonLabTests {
    /// The pid of the `gatepeer run` in the lab's peer namespace.
    func daemonPID() throws -> Int32 {
        let pids = sh(["ip", "netns", "pids", node("peer")]).stdout.split(separator: "\n").compactMap { Int32($0) }
        return try XCTUnwrap(pids.first { pid in
            ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").hasPrefix("gatepeer")
        }, "no gatepeer process in \(node("peer"))")
    }

    /// Threads: of /proc/PID/status.
    func threads(_ pid: Int32) throws -> Int {
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("Threads:") })
        return try XCTUnwrap(Int(line.split(separator: "\t").last!.trimmingCharacters(in: .whitespaces)))
    }

    /// bigNameLab, with slow.example.org forwarded by dnsmasq to a server that takes
    /// queries and never answers.
    func slowNameLab() throws {
        background("inet", ["socat", "-u", "UDP-RECV:5353,bind=203.0.113.10", "/dev/null"])
        _ = try bigNameLab(dnsmasq: ["--server=/slow.example.org/203.0.113.10#5353", "--dns-forward-max=1000"])
    }

    /// dev1 asks for slow.example.org 50 times every 0.2 s (250/s), each a datagram of its
    /// own on a connected socket, until the test ends: its 16 slots stay taken.
    func floodSlowName() {
        let query = DNSMessage.query(id: 0x5151, name: "slow.example.org", type: .a)
        let escaped = query.map { String(format: "\\x%02x", $0) }.joined()
        let script = """
        exec {fd}<>/dev/udp/10.255.255.254/53 || exit 1
        while :; do for i in $(seq 50); do printf '\(escaped)' >&$fd; done; sleep 0.2; done
        """
        background("dev1", ["bash", "-c", script])
    }

    func testUDPQueriesWaitingUpstreamHoldNoThreads() throws {
        try slowNameLab()
        let pid = try daemonPID()
        let idle = try threads(pid)
        floodSlowName()
        var most = 0
        for _ in 0..<10 {
            Thread.sleep(forTimeInterval: 0.3)  // samples while the flood runs, not a timing check
            most = max(most, try threads(pid))
        }
        let dig = inNode("dev2", ["dig", "+short", "+time=2", "+tries=1", "@10.255.255.254", "cdn.example.com"])
        XCTAssertEqual(dig.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "198.51.100.20", "dev2 is answered: \(dig.stdout)\(dig.stderr)")
        print("ForwarderThreadTests: threads idle \(idle), most during the flood \(most)")
        // Dispatch may add a worker or two; a thread per query would add 16.
        XCTAssertLessThan(most, idle + 8, "threads of the daemon while 16 UDP queries wait upstream (idle: \(idle))")
    }
}
