import Foundation
import XCTest
import Glibc

/// MSS clamping against paths narrower than the tunnel, with ICMP "fragmentation needed"
/// lost on the way (issue 10 item 1). A router that cannot forward a full-size segment
/// drops it and sends frag-needed; here nftables drops that ICMP too (counted), so the
/// sender never learns the path MTU and only a clamped SYN lets the transfer finish.
/// The helpers work on any namespace, lab node or not, by its exact name.
enum NarrowPath {
    /// Bytes each transfer carries: enough segments that a black hole cannot hide.
    static let bytes = 400_000
    static let port = 8000

    /// A table in `ns` that counts and drops the ICMP errors carrying a path MTU (IPv4
    /// frag-needed, IPv6 packet-too-big), whether `ns` sends them itself or forwards them.
    static func dropPMTUErrors(in ns: String, file: StaticString = #filePath, line: UInt = #line) {
        var table = "table inet gpt_icmp_lost {\n  counter pmtu {\n  }\n"
        for (chain, hook) in [("pmtu_out", "output"), ("pmtu_forward", "forward")] {
            table += """
              chain \(chain) {
                type filter hook \(hook) priority filter; policy accept;
                icmp type destination-unreachable icmp code frag-needed counter name "pmtu" drop
                icmpv6 type packet-too-big counter name "pmtu" drop
              }

            """
        }
        table += "}\n"
        let r = sh(["ip", "netns", "exec", ns, "nft", "-f", "-"], stdin: table)
        XCTAssertEqual(r.status, 0, "nft in \(ns): \(r.stderr)", file: file, line: line)
    }

    /// PMTU errors the table of `dropPMTUErrors` dropped in `ns` (nft -j list counter).
    static func droppedPMTUErrors(in ns: String) -> Int {
        let r = sh(["ip", "netns", "exec", ns, "nft", "-j", "list", "counter", "inet", "gpt_icmp_lost", "pmtu"])
        let doc = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
        let items = doc?["nftables"] as? [[String: Any]] ?? []
        return items.compactMap { ($0["counter"] as? [String: Any])?["packets"] as? Int }.first ?? -1
    }

    /// A TCP server in `ns` sending `bytes` zero bytes to every client, then closing;
    /// stopped by `stopProcesses(in:)`. Returns once it listens.
    static func serve(in ns: String, file: StaticString = #filePath, line: UInt = #line) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", ns, "socat", "TCP-LISTEN:\(port),fork,reuseaddr", "SYSTEM:head -c \(bytes) /dev/zero"]
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        XCTAssertNoThrow(try p.run(), file: file, line: line)
        let listening = eventually(10) {
            !sh(["ip", "netns", "exec", ns, "ss", "-Hltn", "sport = :\(port)"]).stdout.isEmpty
        }
        XCTAssertTrue(listening, "no listener on port \(port) in \(ns)", file: file, line: line)
    }

    /// Kills what runs in `ns` (the servers a test started there), by PID.
    static func stopProcesses(in ns: String) {
        for pid in sh(["ip", "netns", "pids", ns]).stdout.split(separator: "\n").compactMap({ Int32($0) }) {
            kill(pid, SIGKILL)
        }
    }

    /// Downloads from `serve` at `host` inside `ns`; the bytes that arrived. A stalled
    /// transfer is cut off after 30 s: a bound so a black hole cannot hang the test,
    /// not a timing assertion (an unstalled one takes well under a second).
    static func download(in ns: String, from host: String) -> Int {
        let r = sh(["ip", "netns", "exec", ns, "sh", "-c",
                    "timeout 30 socat -u TCP:\(host):\(port),connect-timeout=5 - | wc -c"])
        return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// Downloads while tcpdump on eth0 of `server` records the client's SYN; returns the
    /// bytes that arrived and the MSS option the server saw.
    static func downloadSeeingSYN(client: String, server: String, host: String) -> (bytes: Int, mss: Int?) {
        var bytes = -1
        let syn = tcpdump(namespace: server, count: 1, filter: "tcp dst port \(port) and tcp[13] & 2 != 0") {
            bytes = download(in: client, from: host)
        }
        let mss = syn.range(of: #"mss \d+"#, options: .regularExpression).flatMap { Int(syn[$0].dropFirst(4)) }
        return (bytes, mss)
    }
}

/// Device -> internet over a narrow uplink. The lab's uplink (peer <-> inet) is made a
/// 1280-byte link, and the server sits one hop further, behind inet, on a 1500-byte
/// link: inet is the router that cannot forward the server's full-size segments, and
/// its frag-needed answers are dropped.
final class MSSLabTests: LabTestCase {
    private var server: Namespace?

    override func tearDown() {
        if let server { NarrowPath.stopProcesses(in: server.name) }
        super.tearDown()
    }

    func testBulkDownloadOverANarrowUplinkWithICMPLost() throws {
        let srv = try makeNamespace("srv")
        server = srv
        let inet = node("inet")
        XCTAssertEqual(inNode("inet", ["ip", "link", "add", "tosrv", "type", "veth", "peer", "name", "eth0", "netns", srv.name]).status, 0)
        for (ns, cmd) in [(inet, "addr add 203.0.113.129/30 dev tosrv"), (inet, "link set tosrv up"),
                          (srv.name, "addr add 203.0.113.130/30 dev eth0"), (srv.name, "link set eth0 up"),
                          (srv.name, "route add default via 203.0.113.129"),
                          (inet, "link set eth0 mtu 1280"), (node("peer"), "link set uplink mtu 1280")] {
            let r = sh(["ip", "-n", ns] + cmd.split(separator: " ").map(String.init))
            XCTAssertEqual(r.status, 0, "ip -n \(ns) \(cmd): \(r.stderr)")
        }
        XCTAssertEqual(inNode("inet", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]).status, 0)
        // No packetization-layer probing: the server only ever learns from the clamp.
        XCTAssertEqual(srv.exec(["sysctl", "-qw", "net.ipv4.tcp_mtu_probing=0"]).status, 0)
        NarrowPath.dropPMTUErrors(in: inet)
        NarrowPath.serve(in: srv.name)

        // The lab's filter, plus the server.
        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: packageRoot.appendingPathComponent("netconfig/lab-filter.json"))) as? [String: Any])
        var filter = try XCTUnwrap(doc["filter"] as? [String: Any])
        var groups = try XCTUnwrap(filter["outbound"] as? [[String: Any]])
        groups[0]["rules"] = (groups[0]["rules"] as? [[String: Any]] ?? []) + [["action": "allow", "destination": "203.0.113.130/32", "protocol": "tcp", "ports": [NarrowPath.port]]]
        filter["outbound"] = groups
        doc["filter"] = filter
        let config = writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
        let apply = gatepeer("apply", "-c", config)
        XCTAssertEqual(apply.status, 0, apply.stderr)

        let got = NarrowPath.downloadSeeingSYN(client: node("dev1"), server: srv.name, host: "203.0.113.130")
        XCTAssertEqual(got.bytes, NarrowPath.bytes, "device -> internet over a 1280-byte uplink; PMTU errors dropped at inet: \(NarrowPath.droppedPMTUErrors(in: inet))")
        // The device's SYN left through the uplink: clamped to its MTU 1280 - 40.
        XCTAssertEqual(got.mss, 1240, "MSS of the device's SYN at the server")
        XCTAssertEqual(NarrowPath.droppedPMTUErrors(in: inet), 0, "every segment fit the narrow link")
    }
}
