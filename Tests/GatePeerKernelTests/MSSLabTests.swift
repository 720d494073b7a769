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

    /// A TCP server in `ns` (IPv6 socket, IPv4 too) sending `bytes` zero bytes to every
    /// client, then closing; killed by PID when `test` ends, before its namespaces go.
    /// Returns once it listens.
    static func serve(in ns: String, for test: XCTestCase, file: StaticString = #filePath, line: UInt = #line) {
        test.addTeardownBlock { stopProcesses(in: ns) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", ns, "socat", "TCP6-LISTEN:\(port),ipv6only=0,fork,reuseaddr", "SYSTEM:head -c \(bytes) /dev/zero"]
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        XCTAssertNoThrow(try p.run(), file: file, line: line)
        let listening = eventually(10) {
            !sh(["ip", "netns", "exec", ns, "ss", "-Hltn", "sport = :\(port)"]).stdout.isEmpty
        }
        XCTAssertTrue(listening, "no listener on port \(port) in \(ns)", file: file, line: line)
    }

    /// Runs `ip -n NS ARGS` for each (NS, "ARGS"); fails the test naming the line.
    static func ip(_ lines: [(String, String)], file: StaticString = #filePath, line: UInt = #line) {
        for (ns, args) in lines {
            let r = sh(["ip", "-n", ns] + args.split(separator: " ").map(String.init))
            XCTAssertEqual(r.status, 0, "ip -n \(ns) \(args): \(r.stderr)", file: file, line: line)
        }
    }

    /// Kills what runs in `ns` (the servers a test started there), by PID.
    private static func stopProcesses(in ns: String) {
        for pid in sh(["ip", "netns", "pids", ns]).stdout.split(separator: "\n").compactMap({ Int32($0) }) {
            kill(pid, SIGKILL)
        }
    }

    /// Downloads from `serve` at `host` (an IPv6 address in brackets) inside `ns`; the bytes that arrived. A stalled
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
        // tcp[13] (the flags) reaches no IPv6 packet: ip6[53] is the same byte behind a
        // bare IPv6 header.
        let flags = host.hasPrefix("[") ? "ip6[53]" : "tcp[13]"
        let syn = tcpdump(namespace: server, count: 1, filter: "tcp dst port \(port) and \(flags) & 2 != 0") {
            bytes = download(in: client, from: host)
        }
        let mss = syn.range(of: #"mss \d+"#, options: .regularExpression).flatMap { Int(syn[$0].dropFirst(4)) }
        return (bytes, mss)
    }
}

/// Device -> internet over a narrow uplink. The server sits one hop past the lab's
/// internet node, on a 1500-byte link; inet's link toward the peer is 1280 bytes, so inet
/// is the router that cannot forward the server's full-size segments, and its frag-needed
/// answers are dropped.
final class MSSLabTests: LabTestCase {
    /// The server behind inet, the narrow link and the lab's filter plus the server,
    /// applied. `peerKnows`: the peer's uplink is 1280 bytes too (PPPoE, WireGuard);
    /// otherwise it stays at 1500 and only inet's end is narrow (a narrowing further out).
    func narrowUplink(peerKnows: Bool, peerRoute: String? = nil) throws -> String {
        let srv = try makeNamespace("srv")
        let inet = node("inet")
        XCTAssertEqual(inNode("inet", ["ip", "link", "add", "tosrv", "type", "veth", "peer", "name", "eth0", "netns", srv.name]).status, 0)
        NarrowPath.ip([(inet, "addr add 203.0.113.129/30 dev tosrv"), (inet, "link set tosrv up"),
                       (srv.name, "addr add 203.0.113.130/30 dev eth0"), (srv.name, "link set eth0 up"),
                       (srv.name, "route add default via 203.0.113.129"), (inet, "link set eth0 mtu 1280")]
                      + (peerKnows ? [(node("peer"), "link set uplink mtu 1280")] : [])
                      + (peerRoute.map { [(node("peer"), "route replace \($0)")] } ?? []))
        XCTAssertEqual(inNode("inet", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]).status, 0)
        // No packetization-layer probing: the server only ever learns from the clamp.
        XCTAssertEqual(srv.exec(["sysctl", "-qw", "net.ipv4.tcp_mtu_probing=0"]).status, 0)
        NarrowPath.dropPMTUErrors(in: inet)
        NarrowPath.serve(in: srv.name, for: self)

        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: packageRoot.appendingPathComponent("netconfig/lab-filter.json"))) as? [String: Any])
        var filter = try XCTUnwrap(doc["filter"] as? [String: Any])
        var groups = try XCTUnwrap(filter["outbound"] as? [[String: Any]])
        groups[0]["rules"] = (groups[0]["rules"] as? [[String: Any]] ?? []) + [["action": "allow", "destination": "203.0.113.130/32", "protocol": "tcp", "ports": [NarrowPath.port]]]
        filter["outbound"] = groups
        doc["filter"] = filter
        let config = writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
        let apply = gatepeer("apply", "-c", config)
        XCTAssertEqual(apply.status, 0, apply.stderr)
        return srv.name
    }

    func assertDownloadCompletes(from srv: String, mss: Int, file: StaticString = #filePath, line: UInt = #line) {
        let inet = node("inet")
        let got = NarrowPath.downloadSeeingSYN(client: node("dev1"), server: srv, host: "203.0.113.130")
        XCTAssertEqual(got.bytes, NarrowPath.bytes, "device <- internet; PMTU errors dropped at inet: \(NarrowPath.droppedPMTUErrors(in: inet))", file: file, line: line)
        XCTAssertEqual(got.mss, mss, "MSS of the device's SYN at the server", file: file, line: line)
        XCTAssertEqual(NarrowPath.droppedPMTUErrors(in: inet), 0, "every segment fit the narrow link", file: file, line: line)
    }

    func testBulkDownloadOverANarrowUplinkWithICMPLost() throws {
        let srv = try narrowUplink(peerKnows: true)
        // The device's SYN left through the uplink: clamped to its MTU 1280 - 40.
        assertDownloadCompletes(from: srv, mss: 1240)
    }

    /// A narrowing the peer cannot see needs the ICMP, or the route's MTU set on the peer:
    /// `rt mtu` reads the route's metric as well (docs/filter.md).
    func testARouteMTUOnThePeerCoversANarrowingItCannotSee() throws {
        let srv = try narrowUplink(peerKnows: false, peerRoute: "default via 192.0.2.2 dev uplink mtu lock 1280")
        assertDownloadCompletes(from: srv, mss: 1240)
    }
}

/// Device -> IPsec site. gatepeer's peer is side a of the IPsec lab (scripts/lib/ipsec-lab.sh:
/// two charons, ESP in kernel-libipsec over a TUN device ipsec0), with a VPG and a device
/// behind it as in scripts/lab; the site's server sits behind side b, one hop past b's
/// ipsec0. b cannot forward the server's segments sized for the VXLAN tunnel (MSS 1410)
/// into the SA, and its frag-needed answers are dropped. kernel-libipsec routes through
/// ipsec0, so `rt mtu` reads that device's MTU: 1400, fixed by charon (its TUN reads are
/// sized by the MTU it set, so the lab cannot raise it to the sheet's 1436). With kernel
/// ESP it is the xfrm bundle's, which this kernel cannot run. Then the site's own `mss`,
/// set below that: SYNs toward the site and SYNs the site sends to a device server both
/// carry it (the site -> device SYN leaves by the tunnel; with kernel XFRM policies no
/// route back leads through the SA, so `rt mtu` cannot give it).
final class MSSIPsecLabTests: IPsecLabTestCase {

    func sysctls(_ ns: String, _ keys: [String], file: StaticString = #filePath, line: UInt = #line) {
        let r = sh(["ip", "netns", "exec", ns, "sysctl", "-qw"] + keys)
        XCTAssertEqual(r.status, 0, "sysctl in \(ns): \(r.stderr)", file: file, line: line)
    }

    /// A VPG (VXLAN VNI 10 to 172.31.0.254, as netconfig/lab.json expects) and device
    /// 10.128.0.11 behind it, attached to `peer` by a veth named eth0 (the link's underlay).
    func attachVPGAndDevice(to peer: String) throws -> Namespace {
        let vpg = try makeNamespace("vpg"), dev = try makeNamespace("dev")
        NarrowPath.ip([(peer, "link add eth0 type veth peer name eth0 netns \(vpg.name)"),
                 (peer, "addr add 172.31.0.254/24 dev eth0"), (peer, "link set eth0 up"),
                 (peer, "route add 100.64.0.0/10 via 172.31.0.1"),
                 (vpg.name, "addr add 172.31.0.1/24 dev eth0"), (vpg.name, "addr add 100.64.152.4/32 dev eth0"),
                 (vpg.name, "link set eth0 up"),
                 (vpg.name, "link add vxlan10 type vxlan id 10 local 100.64.152.4 dev eth0 dstport 4789 srcport 4789 4790"),
                 (vpg.name, "link set vxlan10 mtu 1450 up"), (vpg.name, "addr add 10.255.255.1/9 dev vxlan10"),
                 (vpg.name, "route add default via 10.255.255.254 dev vxlan10"),
                 (vpg.name, "link add todev type veth peer name eth0 netns \(dev.name)"), (vpg.name, "link set todev up"),
                 (vpg.name, "route add 10.128.0.11/32 dev todev"),
                 (dev.name, "addr add 10.128.0.11/32 dev eth0"), (dev.name, "link set eth0 up"),
                 (dev.name, "route add default dev eth0")])
        XCTAssertEqual(sh(["bridge", "-n", vpg.name, "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan10", "dst", "172.31.0.254"]).status, 0)
        sysctls(vpg.name, ["net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                           "net.ipv4.conf.vxlan10.proxy_arp=1", "net.ipv4.conf.todev.proxy_arp=1",
                           "net.ipv4.neigh.vxlan10.proxy_delay=0", "net.ipv4.neigh.todev.proxy_delay=0"])
        return dev
    }

    func testBulkDownloadFromAnIPsecSiteWithICMPLost() throws {
        try startLab(tag: "mss")
        let a = prefix + "-a", b = prefix + "-b"

        // The site: b forwards between the SA and the server's LAN.
        let site = try makeNamespace("site")
        NarrowPath.ip([(b, "addr del 10.2.0.1/24 dev lo"),
                 (b, "link add tosite type veth peer name eth0 netns \(site.name)"),
                 (b, "addr add 10.2.0.1/24 dev tosite"), (b, "link set tosite up"),
                 (site.name, "addr add 10.2.0.80/24 dev eth0"), (site.name, "link set eth0 up"),
                 (site.name, "route add default via 10.2.0.1")])
        sysctls(b, ["net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"])
        sysctls(site.name, ["net.ipv4.tcp_mtu_probing=0"])
        NarrowPath.dropPMTUErrors(in: b)
        NarrowPath.serve(in: site.name, for: self)
        let dev = try attachVPGAndDevice(to: a)

        // gatepeer on a: the lab's link and the site, first without a filter section (as
        // netconfig/ipsec-site.json), then with one that lets the device out.
        let psk = sh([gatepeerBinary, "ipsec", "psk"])
        XCTAssertEqual(psk.status, 0, psk.stderr)
        let keyPath = labDir + "/lab.psk"
        XCTAssertTrue(FileManager.default.createFile(atPath: keyPath, contents: Data(psk.stdout.utf8), attributes: [.posixPermissions: 0o600]))
        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: packageRoot.appendingPathComponent("netconfig/lab.json"))) as? [String: Any])
        var labSite: [String: Any] = [
            "name": "lab", "overlapsDevicesIntended": true, "startAction": "start", "psk": ["file": keyPath],
            "local": ["address": "192.0.2.1", "id": "a.lab.example", "subnets": ["10.128.0.0/9"]],
            "remote": ["address": "192.0.2.2", "id": "b.lab.example", "subnets": ["10.2.0.0/24"]],
        ]
        doc["ipsec"] = ["sites": [labSite]]
        let plain = writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
        // The same site with an MSS below what the SA's route gives (`rt mtu`: 1360), as a
        // site behind a narrower path announces; no filter section, so the site may open
        // connections to the device.
        labSite["mss"] = siteMSS
        var narrowDoc = doc
        narrowDoc["ipsec"] = ["sites": [labSite]]
        let narrowSite = writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: narrowDoc), as: UTF8.self))
        doc["filter"] = ["nat": "none", "outbound": [["name": "fleet", "default": "allow"]]]
        let filtered = writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))

        let apply = sh(["ip", "netns", "exec", a, gatepeerBinary, "apply", "-c", plain])
        XCTAssertEqual(apply.status, 0, apply.stderr)
        let render = sh([gatepeerBinary, "ipsec", "render", "--site", "lab", "--format", "swanctl", "--side", "remote", "--out", labDir + "/b/swanctl/conf.d", "-c", plain])
        XCTAssertEqual(render.status, 0, render.stderr)
        let load = lab("ipsec_lab_exec b swanctl --load-all")
        XCTAssertEqual(load.status, 0, load.stderr + load.stdout)
        let ipsecApply = lab("ipsec_lab_exec a \(gatepeerBinary) ipsec apply --site lab -c \(plain)")
        XCTAssertEqual(ipsecApply.status, 0, ipsecApply.stderr + ipsecApply.stdout)
        for side in ["a", "b"] {
            let w = lab("ipsec_lab_wait_child \(side) lab 30")
            XCTAssertEqual(w.status, 0, "CHILD_SA on \(side): \(w.stderr)")
        }
        let ping = sh(["ip", "netns", "exec", dev.name, "ping", "-c", "2", "-W", "3", "-q", "10.2.0.80"])
        XCTAssertEqual(ping.status, 0, "device -> site through VXLAN and the SA: \(ping.stdout)")
        let sa = try XCTUnwrap(site.json(sh(["ip", "-n", a, "-j", "link", "show", "ipsec0"]).stdout).first?["mtu"] as? Int)
        XCTAssertLessThan(sa, 1450, "the SA is narrower than the VXLAN tunnel")

        for (what, config) in [("without a filter section", plain), ("with a filter section", filtered)] {
            let apply = sh(["ip", "netns", "exec", a, gatepeerBinary, "apply", "-c", config])
            XCTAssertEqual(apply.status, 0, apply.stderr)
            let dropped = NarrowPath.droppedPMTUErrors(in: b)
            let got = NarrowPath.downloadSeeingSYN(client: dev.name, server: site.name, host: "10.2.0.80")
            XCTAssertEqual(got.bytes, NarrowPath.bytes, "\(what): device <- IPsec site; PMTU errors dropped at b: \(NarrowPath.droppedPMTUErrors(in: b))")
            // The SYN left a through the SA: clamped to what its route (ipsec0) carries.
            XCTAssertEqual(got.mss, sa - 40, "\(what): MSS of the device's SYN at the site's server")
            XCTAssertEqual(NarrowPath.droppedPMTUErrors(in: b), dropped, "\(what): every segment fit the SA")
        }

        // The site's own MSS (issue 10 item 1, round 3), both ways: SYNs toward the site's
        // subnets and SYNs from them toward a device. The second leaves a by the tunnel, and
        // with kernel XFRM policies no route back leads through the SA, so only the clamp
        // by the site's subnets brings it down to the site's MSS.
        let narrow = sh(["ip", "netns", "exec", a, gatepeerBinary, "apply", "-c", narrowSite])
        XCTAssertEqual(narrow.status, 0, narrow.stderr)
        // The site's sets and rules read back as loaded: nothing for the next apply to do.
        let plan = sh(["ip", "netns", "exec", a, gatepeerBinary, "plan", "-c", narrowSite])
        XCTAssertEqual(plan.stdout, "no changes\n", plan.stderr)
        let toSite = NarrowPath.downloadSeeingSYN(client: dev.name, server: site.name, host: "10.2.0.80")
        XCTAssertEqual(toSite.bytes, NarrowPath.bytes, "device <- IPsec site with mss \(siteMSS)")
        XCTAssertEqual(toSite.mss, siteMSS, "MSS of the device's SYN at the site's server: the site's mss")
        NarrowPath.serve(in: dev.name, for: self)
        let fromSite = NarrowPath.downloadSeeingSYN(client: site.name, server: dev.name, host: "10.128.0.11")
        XCTAssertEqual(fromSite.bytes, NarrowPath.bytes, "IPsec site <- device, a connection the site opened")
        XCTAssertEqual(fromSite.mss, siteMSS, "MSS of the site's SYN at the device: the site's mss, not the tunnel's or rt mtu's")
    }

    /// Below `rt mtu` through the lab's SA (ipsec0 1400 - 40), so only the site rule sets it.
    private let siteMSS = 1300
}

/// IPv6, and a SYN that arrives from no tunnel: a LAN host behind gatepeer's peer
/// (plain config, no filter section) downloads from a server beyond a router whose link
/// to the peer is 1280 bytes (the IPv6 minimum); the router's packet-too-big is dropped.
/// IPv6 routers never fragment, so without the clamp every full-size segment is lost.
final class MSSIPv6Tests: KernelTestCase {
    func testBulkDownloadOverANarrowIPv6PathWithPacketTooBigLost() throws {
        let peer = try makePeerNamespace()
        let client = try makeNamespace("cli"), router = try makeNamespace("rtr"), srv = try makeNamespace("srv")
        NarrowPath.ip([(peer.name, "link add lan6 type veth peer name eth0 netns \(client.name)"),
                       (peer.name, "link add up6 mtu 1280 type veth peer name eth0 mtu 1280 netns \(router.name)"),
                       (router.name, "link add tosrv type veth peer name eth0 netns \(srv.name)"),
                       (peer.name, "addr add 2001:db8:c::1/64 dev lan6 nodad"), (peer.name, "addr add 2001:db8:1::1/64 dev up6 nodad"),
                       (client.name, "addr add 2001:db8:c::2/64 dev eth0 nodad"),
                       (router.name, "addr add 2001:db8:1::2/64 dev eth0 nodad"), (router.name, "addr add 2001:db8:2::1/64 dev tosrv nodad"),
                       (srv.name, "addr add 2001:db8:2::2/64 dev eth0 nodad"),
                       (peer.name, "link set lan6 up"), (peer.name, "link set up6 up"), (client.name, "link set eth0 up"),
                       (router.name, "link set eth0 up"), (router.name, "link set tosrv up"), (srv.name, "link set eth0 up"),
                       (client.name, "-6 route add default via 2001:db8:c::1"),
                       (peer.name, "-6 route add 2001:db8:2::/64 via 2001:db8:1::2"),
                       (router.name, "-6 route add 2001:db8:c::/64 via 2001:db8:1::1"),
                       (srv.name, "-6 route add default via 2001:db8:2::1")])
        for ns in [peer, router] { XCTAssertEqual(ns.exec(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]).status, 0) }
        XCTAssertEqual(srv.exec(["sysctl", "-qw", "net.ipv4.tcp_mtu_probing=0"]).status, 0)
        NarrowPath.dropPMTUErrors(in: router.name)
        NarrowPath.serve(in: srv.name, for: self)
        let apply = peer.gatepeer("apply", "-c", writeConfig(configJSON(linkJSON())))
        XCTAssertEqual(apply.status, 0, apply.stderr)

        let got = NarrowPath.downloadSeeingSYN(client: client.name, server: srv.name, host: "[2001:db8:2::2]")
        XCTAssertEqual(got.bytes, NarrowPath.bytes, "LAN host <- server over a 1280-byte IPv6 link; packet-too-big dropped: \(NarrowPath.droppedPMTUErrors(in: router.name))")
        XCTAssertEqual(got.mss, 1280 - 60, "MSS of the client's SYN at the server")
        XCTAssertEqual(NarrowPath.droppedPMTUErrors(in: router.name), 0, "every segment fit the narrow link")
    }
}
