import Foundation
import GatePeerCore
import XCTest

/// One link of a test config, as JSON text.
func linkJSON(name: String = "gp0", vxlanId: Int = 10, inner: String = "10.255.255.254/9",
              peers: [String] = ["100.64.152.4", "100.64.152.132"],
              routes: [(String, String)] = [("192.168.10.0/24", "10.129.3.7")], extra: String = "") -> String {
    let p = peers.map { "{\"outerIpAddress\": \"\($0)\"}" }.joined(separator: ", ")
    let r = routes.map { "{\"destination\": \"\($0.0)\", \"via\": \"\($0.1)\"}" }.joined(separator: ", ")
    return """
    {"name": "\(name)", "vxlanId": \(vxlanId), "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254",
     "innerIpAddress": "\(inner)", "peers": [\(p)], "routes": [\(r)]\(extra)}
    """
}

func configJSON(_ links: String...) -> String { "{\"forwarding\": true, \"links\": [\(links.joined(separator: ", "))]}" }

final class KernelTests: KernelTestCase {
    func applyOK(_ ns: Namespace, _ path: String, file: StaticString = #filePath, line: UInt = #line) {
        let r = ns.gatepeer("apply", "-c", path)
        XCTAssertEqual(r.status, 0, "apply failed: \(r.stderr)", file: file, line: line)
    }

    func testApplyCreatesExactlyTheExpectedObjects() throws {
        let ns = try makePeerNamespace()
        let before = Set(ns.links().compactMap { $0["ifname"] as? String })
        applyOK(ns, writeConfig(configJSON(linkJSON())))

        let after = Set(ns.links().compactMap { $0["ifname"] as? String })
        XCTAssertEqual(after.subtracting(before), ["gp0"], "exactly one new link")
        let gp0 = try XCTUnwrap(ns.link("gp0"))
        let info = try XCTUnwrap((gp0["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any])
        XCTAssertEqual((gp0["linkinfo"] as? [String: Any])?["info_kind"] as? String, "vxlan")
        XCTAssertEqual(info["id"] as? Int, 10)
        XCTAssertEqual(info["port"] as? Int, 4789)
        XCTAssertEqual(info["local"] as? String, "172.31.0.254")
        XCTAssertEqual(info["link"] as? String, "eth0")
        XCTAssertEqual(info["learning"] as? Bool, true)
        // Inclusive 4789-4789 in the config is the kernel's half-open [4789, 4790).
        let range = try XCTUnwrap(info["port_range"] as? [String: Any])
        XCTAssertEqual(range["low"] as? Int, 4789)
        XCTAssertEqual(range["high"] as? Int, 4790)
        XCTAssertEqual(gp0["mtu"] as? Int, 1450, "underlay 1500 - 50")
        XCTAssertEqual(gp0["address"] as? String, MACAddress.derived(fromLinkName: "gp0").description)
        XCTAssertEqual(gp0["ifalias"] as? String, "gatepeer:gp0")
        XCTAssertTrue((gp0["flags"] as? [String] ?? []).contains("UP"))

        let fdb = ns.fdb("gp0")
        XCTAssertEqual(fdb.count, 2, "\(fdb)")
        XCTAssertEqual(Set(fdb.compactMap { $0["dst"] as? String }), ["100.64.152.4", "100.64.152.132"])
        for e in fdb {
            XCTAssertEqual(e["mac"] as? String, "00:00:00:00:00:00")
            XCTAssertEqual(e["state"] as? String, "permanent")
        }
        XCTAssertEqual(ns.addresses("gp0"), ["10.255.255.254/9"])

        let ours = ns.routes("proto", "201")
        XCTAssertEqual(ours.count, 1)
        XCTAssertEqual(ours.first?["dst"] as? String, "192.168.10.0/24")
        XCTAssertEqual(ours.first?["gateway"] as? String, "10.129.3.7")
        XCTAssertEqual(ours.first?["dev"] as? String, "gp0")

        XCTAssertEqual(ns.sysctl("net.ipv4.ip_forward"), "1")
        XCTAssertEqual(ns.sysctl("net.ipv4.conf.gp0.rp_filter"), "2")
        XCTAssertEqual(ns.sysctl("net.ipv6.conf.gp0.accept_ra"), "0")
    }

    func testSecondApplyChangesNothing() throws {
        let ns = try makePeerNamespace()
        let cfg = writeConfig(configJSON(linkJSON()))
        applyOK(ns, cfg)
        let before = ns.snapshot()
        let plan = ns.gatepeer("plan", "--json", "-c", cfg)
        XCTAssertEqual(plan.status, 0)
        let changes = (try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])?["changes"] as? [Any]
        XCTAssertEqual(changes?.count, 0, plan.stdout)
        let second = ns.gatepeer("apply", "-c", cfg)
        XCTAssertEqual(second.status, 0)
        XCTAssertEqual(second.stdout, "", "second apply printed changes")
        XCTAssertTrue(second.stderr.contains("0 of 0 change(s) applied"), second.stderr)
        XCTAssertEqual(ns.snapshot(), before)
        XCTAssertEqual(ns.gatepeer("plan", "-c", cfg).stdout, "no changes\n")
    }

    func testChangingVxlanIdRecreatesTheDevice() throws {
        let ns = try makePeerNamespace()
        applyOK(ns, writeConfig(configJSON(linkJSON())))
        let oldIndex = try XCTUnwrap(ns.link("gp0")?["ifindex"] as? Int)
        let cfg = writeConfig(configJSON(linkJSON(vxlanId: 4242)))
        let plan = ns.gatepeer("plan", "-c", cfg).stdout
        XCTAssertTrue(plan.hasPrefix("- link gp0 (recreate: vxlanId 10 -> 4242 cannot change in place)"), plan)
        applyOK(ns, cfg)
        let gp0 = try XCTUnwrap(ns.link("gp0"))
        XCTAssertNotEqual(gp0["ifindex"] as? Int, oldIndex, "device was recreated")
        XCTAssertEqual(((gp0["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any])?["id"] as? Int, 4242)
        XCTAssertEqual(ns.fdb("gp0").count, 2)
        XCTAssertEqual(ns.addresses("gp0"), ["10.255.255.254/9"])
        XCTAssertEqual(ns.routes("proto", "201").count, 1)
        XCTAssertEqual(ns.gatepeer("plan", "-c", cfg).stdout, "no changes\n")
    }

    func testMutableAttributesChangeInPlace() throws {
        let ns = try makePeerNamespace()
        applyOK(ns, writeConfig(configJSON(linkJSON())))
        let oldIndex = try XCTUnwrap(ns.link("gp0")?["ifindex"] as? Int)
        let cfg = writeConfig(configJSON(linkJSON(extra: #", "mtu": 1400, "learning": false, "mac": "02:00:5e:10:00:01""#)))
        applyOK(ns, cfg)
        let gp0 = try XCTUnwrap(ns.link("gp0"))
        XCTAssertEqual(gp0["ifindex"] as? Int, oldIndex, "changed in place, not recreated")
        XCTAssertEqual(gp0["mtu"] as? Int, 1400)
        XCTAssertEqual(gp0["address"] as? String, "02:00:5e:10:00:01")
        XCTAssertEqual(((gp0["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any])?["learning"] as? Bool, false)
        XCTAssertEqual(ns.gatepeer("plan", "-c", cfg).stdout, "no changes\n")
    }

    /// A new inner address: deleting the old one (the device's last IPv4 address) makes
    /// the kernel flush the routes through the device, so the LAN route is put back
    /// after the new address, in the same apply, which converges (nothing "changed
    /// during apply", the next plan empty).
    func testChangingInnerAddressKeepsTheLANRoute() throws {
        let ns = try makePeerNamespace()
        applyOK(ns, writeConfig(configJSON(linkJSON())))
        let cfg = writeConfig(configJSON(linkJSON(inner: "10.255.255.253/9")))
        let r = ns.gatepeer("apply", "-c", cfg)
        XCTAssertEqual(r.status, 0, "apply: \(r.stdout)\(r.stderr)")
        XCTAssertFalse((r.stdout + r.stderr).contains("changed during apply"), r.stdout + r.stderr)
        XCTAssertEqual(ns.addresses("gp0"), ["10.255.255.253/9"])
        let ours = ns.routes("proto", "201")
        XCTAssertEqual(ours.compactMap { $0["dst"] as? String }, ["192.168.10.0/24"], "\(ours)")
        XCTAssertEqual(ours.first?["gateway"] as? String, "10.129.3.7")
        XCTAssertEqual(ours.first?["dev"] as? String, "gp0")
        XCTAssertEqual(ns.gatepeer("plan", "-c", cfg).stdout, "no changes\n")
    }

    func testRemovingOnePeerRemovesOnlyItsFDBEntry() throws {
        let ns = try makePeerNamespace()
        applyOK(ns, writeConfig(configJSON(linkJSON())))
        let index = ns.link("gp0")?["ifindex"] as? Int
        applyOK(ns, writeConfig(configJSON(linkJSON(peers: ["100.64.152.4"]))))
        let fdb = ns.fdb("gp0")
        XCTAssertEqual(fdb.compactMap { $0["dst"] as? String }, ["100.64.152.4"])
        XCTAssertEqual(ns.link("gp0")?["ifindex"] as? Int, index)
        XCTAssertEqual(ns.routes("proto", "201").count, 1)
    }

    func testRemovingALinkDeletesItAndItsRoutes() throws {
        let ns = try makePeerNamespace()
        let second = linkJSON(name: "gp1", vxlanId: 20, inner: "10.64.0.1/16", peers: ["100.64.200.4"],
                              routes: [("192.168.20.0/24", "10.64.3.3"), ("192.168.21.0/24", "10.64.3.4")])
        applyOK(ns, writeConfig(configJSON(linkJSON(), second)))
        XCTAssertNotNil(ns.link("gp1"))
        XCTAssertEqual(ns.routes("proto", "201").count, 3)
        applyOK(ns, writeConfig(configJSON(linkJSON())))
        XCTAssertNil(ns.link("gp1"))
        XCTAssertNotNil(ns.link("gp0"))
        XCTAssertEqual(ns.routes("proto", "201").compactMap { $0["dst"] as? String }, ["192.168.10.0/24"])
    }

    /// 5,000 routes need several sendmsg batches: every route lands exactly once (a
    /// request carried across a batch boundary once got sent twice), and removing them
    /// all is one apply.
    func testThousandsOfRoutesAcrossBatchBoundaries() throws {
        let ns = try makePeerNamespace()
        let routes = (0..<5000).map { ("10.\($0 / 256).\($0 % 256).0/24", "10.129.3.7") }
        let cfg = writeConfig(configJSON(linkJSON(routes: routes)))
        let r = ns.gatepeer("apply", "-c", cfg)
        XCTAssertEqual(r.status, 0, String(r.stderr.prefix(2000)))
        XCTAssertFalse(r.stderr.contains("failed"), String(r.stderr.prefix(2000)))
        let installed = ns.routes("proto", "201")
        XCTAssertEqual(installed.count, 5000)
        XCTAssertEqual(Set(installed.compactMap { $0["dst"] as? String }), Set(routes.map(\.0)))
        XCTAssertEqual(ns.gatepeer("plan", "-c", cfg).stdout, "no changes\n")
        let fewer = writeConfig(configJSON(linkJSON(routes: Array(routes.prefix(10)))))
        XCTAssertEqual(ns.gatepeer("apply", "-c", fewer).status, 0)
        XCTAssertEqual(ns.routes("proto", "201").count, 10)
    }

    /// Configs at the edges of what is valid converge too: a second apply is empty.
    func testEdgeConfigsConverge() throws {
        let ns = try makePeerNamespace()
        ns.ip("addr", "add", "2001:db8:1::10/64", "dev", "eth0", "nodad")
        let cases = [
            configJSON(linkJSON(extra: #", "sourcePortRange": {"low": 60000, "high": 65534}"#)),
            configJSON(linkJSON(extra: #", "mtu": 1200"#)),
            configJSON(linkJSON(inner: "fd00:10::fffe/64", peers: ["100.64.152.4"], routes: [("fd00:99::/48", "fd00:10::7")])),
            configJSON(linkJSON(extra: #", "learning": false, "mac": "02:00:5e:00:00:99""#)),
        ]
        for text in cases {
            let cfg = writeConfig(text)
            let r = ns.gatepeer("apply", "-c", cfg)
            XCTAssertEqual(r.status, 0, "\(text)\n\(r.stderr)")
            XCTAssertEqual(ns.gatepeer("plan", "-c", cfg).stdout, "no changes\n", text)
        }
        // The 60000-65534 range really is 60000..65534 in the kernel ([60000, 65535)).
        let cfg = writeConfig(cases[0])
        XCTAssertEqual(ns.gatepeer("apply", "-c", cfg).status, 0)
        let range = ((ns.link("gp0")?["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any])?["port_range"] as? [String: Any]
        XCTAssertEqual(range?["low"] as? Int, 60000)
        XCTAssertEqual(range?["high"] as? Int, 65535)
    }

    /// An owned duplicate of a route at another metric is stale and goes; ours stays.
    func testOwnedDuplicateAtAnotherMetricIsRemoved() throws {
        let ns = try makePeerNamespace()
        let cfg = writeConfig(configJSON(linkJSON()))
        XCTAssertEqual(ns.gatepeer("apply", "-c", cfg).status, 0)
        ns.ip("route", "add", "192.168.10.0/24", "via", "10.129.3.8", "dev", "gp0", "proto", "201", "metric", "100")
        XCTAssertEqual(ns.routes("proto", "201").count, 2)
        XCTAssertEqual(ns.gatepeer("apply", "-c", cfg).status, 0)
        let left = ns.routes("proto", "201")
        XCTAssertEqual(left.count, 1)
        XCTAssertEqual(left.first?["gateway"] as? String, "10.129.3.7")
        XCTAssertEqual(ns.gatepeer("plan", "-c", cfg).stdout, "no changes\n")
    }

    func testDownRemovesOnlyWhatWeOwn() throws {
        let ns = try makePeerNamespace()
        // Foreign objects: a vxlan device, its address, a static route through it, an
        // FDB entry on it, an extra address and a boot-protocol route on eth0.
        ns.ip("link", "add", "vxforeign", "type", "vxlan", "id", "99", "local", "172.31.0.254", "dstport", "4790", "dev", "eth0")
        ns.ip("link", "set", "vxforeign", "up")
        ns.ip("addr", "add", "10.9.0.1/24", "dev", "vxforeign")
        ns.ip("route", "add", "198.18.0.0/24", "via", "10.9.0.7", "dev", "vxforeign", "proto", "static")
        ns.ip("route", "add", "198.18.1.0/24", "via", "172.31.0.1", "proto", "boot")
        ns.ip("addr", "add", "192.0.2.44/32", "dev", "eth0")
        _ = sh(["bridge", "-n", ns.name, "fdb", "append", "00:00:00:00:00:00", "dev", "vxforeign", "dst", "192.0.2.99"])
        let foreignBefore = ns.snapshot()

        applyOK(ns, writeConfig(configJSON(linkJSON())))
        XCTAssertNotNil(ns.link("gp0"))
        let down = ns.gatepeer("down")
        XCTAssertEqual(down.status, 0, down.stderr)
        XCTAssertNil(ns.link("gp0"))
        XCTAssertEqual(ns.routes("proto", "201").count, 0)
        // Everything foreign is exactly as it was (ip_forward is a sysctl, not in the snapshot).
        XCTAssertEqual(ns.snapshot(), foreignBefore)
        XCTAssertEqual(ns.fdb("vxforeign").compactMap { $0["dst"] as? String }, ["192.0.2.99"])
        // A second down has nothing to do.
        XCTAssertEqual(ns.gatepeer("down").stdout, "")
    }

    func testForeignDeviceWithOurNameIsLeftAlone() throws {
        let ns = try makePeerNamespace()
        ns.ip("link", "add", "gp0", "type", "vxlan", "id", "77", "local", "172.31.0.254", "dstport", "4789", "dev", "eth0")
        let before = ns.snapshot()
        let r = ns.gatepeer("apply", "-c", writeConfig(configJSON(linkJSON())))
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("links[0].name: device gp0 exists and is not gatepeer's"), r.stderr)
        XCTAssertEqual(ns.snapshot(), before)
    }

    func testMissingUnderlayIsARuntimeErrorAndChangesNothing() throws {
        let ns = try makePeerNamespace()
        let before = ns.snapshot()
        let r = ns.gatepeer("apply", "-c", writeConfig(configJSON(linkJSON()).replacingOccurrences(of: "\"eth0\"", with: "\"ens9\"")))
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("links[0].underlayDevice: device ens9 does not exist"), r.stderr)
        XCTAssertEqual(ns.snapshot(), before)
    }

    func testKernelRefusalNamesObjectAndKernelMessage() throws {
        let ns = try makePeerNamespace()
        // A foreign vxlan on the same VNI/port/family would make the kernel refuse ours: it
        // is caught at plan time now, naming the device and the field (OwnershipTests
        // has a refusal only the kernel can see, with its message).
        ns.ip("link", "add", "vxother", "type", "vxlan", "id", "10", "local", "172.31.0.254", "dstport", "4789", "dev", "eth0")
        ns.ip("link", "set", "vxother", "up")
        let r = ns.gatepeer("apply", "-c", writeConfig(configJSON(linkJSON())))
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("blocked: links[0].vxlanId: VNI 10 port 4789 (IPv4) is held by device vxother"), r.stderr)
        XCTAssertNil(ns.link("gp0"))
        XCTAssertNil(ns.link("vxother")?["ifalias"], "the marker never lands on someone else's device")
    }

    func testStatusReportsLinkAndCounters() throws {
        let ns = try makePeerNamespace()
        let cfg = writeConfig(configJSON(linkJSON()))
        XCTAssertTrue(ns.gatepeer("status", "-c", cfg).stdout.contains("link gp0: absent"))
        applyOK(ns, cfg)
        let r = ns.gatepeer("status", "--json", "-c", cfg)
        XCTAssertEqual(r.status, 0)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(doc["inSync"] as? Bool, true)
        let link = try XCTUnwrap((doc["links"] as? [[String: Any]])?.first)
        XCTAssertEqual(link["vxlanId"] as? Int, 10)
        XCTAssertEqual(link["port"] as? Int, 4789)
        XCTAssertEqual(link["outerIpAddress"] as? String, "172.31.0.254")
        XCTAssertEqual(link["mtu"] as? Int, 1450)
        XCTAssertEqual(link["innerIpAddresses"] as? [String], ["10.255.255.254/9"])
        // Peers are objects (issue 12): no daemon runs here, so their liveness is unknown.
        let peers = try XCTUnwrap(link["peers"] as? [[String: Any]])
        XCTAssertEqual(Set(peers.compactMap { $0["address"] as? String }), ["100.64.152.4", "100.64.152.132"])
        XCTAssertEqual(Set(peers.compactMap { $0["state"] as? String }), ["unknown"])
        XCTAssertEqual(doc["degraded"] as? Bool, false)
        XCTAssertNotNil((link["stats"] as? [String: Any])?["txPackets"])
        XCTAssertEqual((link["routes"] as? [[String: Any]])?.first?["via"] as? String, "10.129.3.7")
        let text = ns.gatepeer("status", "-c", cfg).stdout
        XCTAssertTrue(text.contains("in sync with the config"), text)
    }

    /// IPv6 underlay end to end: our peer against a hand-built vxlan in a second namespace.
    /// Also proves on the wire that the source port is pinned to 4789.
    func testIPv6UnderlayCarriesTrafficFromPinnedSourcePort() throws {
        let peer = try makeNamespace("p6")
        let vpg = try makeNamespace("v6")
        peer.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", vpg.name)
        peer.ip("addr", "add", "2001:db8:1::10/64", "dev", "eth0", "nodad")
        vpg.ip("addr", "add", "2001:db8:1::4/64", "dev", "eth0", "nodad")
        peer.ip("link", "set", "eth0", "up")
        vpg.ip("link", "set", "eth0", "up")
        vpg.ip("link", "add", "vxlan10", "type", "vxlan", "id", "10", "local", "2001:db8:1::4", "dev", "eth0",
               "dstport", "4789", "srcport", "4789", "4790")
        _ = sh(["bridge", "-n", vpg.name, "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan10", "dst", "2001:db8:1::10"])
        vpg.ip("addr", "add", "10.255.255.1/9", "dev", "vxlan10")
        vpg.ip("link", "set", "vxlan10", "up")
        let cfg = writeConfig("""
        {"links": [{"name": "gp6", "underlayDevice": "eth0", "outerIpAddress": "2001:db8:1::10",
          "innerIpAddress": "10.255.255.254/9", "peers": [{"outerIpAddress": "2001:db8:1::4"}]}]}
        """)
        applyOK(peer, cfg)
        XCTAssertEqual(peer.link("gp6")?["mtu"] as? Int, 1430, "underlay 1500 - 70 for IPv6")
        XCTAssertEqual(((peer.link("gp6")?["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any])?["local6"] as? String,
                       "2001:db8:1::10")

        let seen = tcpdump(namespace: vpg.name, count: 3, filter: "udp dst port 4789") {
            let ping = peer.exec(["ping", "-c", "3", "-W", "2", "10.255.255.1"])
            XCTAssertEqual(ping.status, 0, "ping over the IPv6 underlay: \(ping.stdout)")
        }
        XCTAssertTrue(seen.contains("2001:db8:1::10.4789 > 2001:db8:1::4.4789"), "source port not pinned:\n\(seen)")
        XCTAssertEqual(peer.gatepeer("plan", "-c", cfg).stdout, "no changes\n")
    }

    /// The corpus's error texts are checked without root in GatePeerCoreTests
    /// (InvalidConfigTests); here every verb refuses each file with exit 2 and the kernel
    /// is left as it was.
    func testInvalidConfigCorpusExitsTwoAndLeavesKernelUntouched() throws {
        let ns = try makePeerNamespace()
        let dir = packageRoot.appendingPathComponent("Tests/GatePeerCoreTests/InvalidConfigs")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 25, "corpus missing or too small at \(dir.path)")
        let before = ns.snapshot()
        for file in files {
            let path = dir.appendingPathComponent(file).path
            for verb in ["validate", "plan", "apply"] {
                let r = ns.gatepeer(verb, "-c", path)
                XCTAssertEqual(r.status, 2, "\(verb) \(file) exit status; stderr: \(r.stderr)")
                XCTAssertEqual(r.stdout, "", "\(verb) \(file): nothing on stdout")
            }
        }
        XCTAssertEqual(ns.snapshot(), before, "the kernel is untouched")
        XCTAssertEqual(ns.sysctl("net.ipv4.ip_forward"), "0")
    }
}
