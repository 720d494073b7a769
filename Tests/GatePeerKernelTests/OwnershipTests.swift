import Foundation
import GatePeerCore
import XCTest

/// Issue 9 items 2, 3, 4, 5 and 8 against the real kernel: FDB entries judged by every
/// attribute and read back after apply, foreign holders caught at plan time, an
/// interrupted create adopted, and look-alikes left alone.
final class OwnershipTests: KernelTestCase {
    func applyOK(_ ns: Namespace, _ path: String, file: StaticString = #filePath, line: UInt = #line) {
        let r = ns.gatepeer("apply", "-c", path)
        XCTAssertEqual(r.status, 0, "apply failed: \(r.stdout)\n\(r.stderr)", file: file, line: line)
    }

    func assertNoChanges(_ ns: Namespace, _ path: String, file: StaticString = #filePath, line: UInt = #line) {
        let r = ns.gatepeer("plan", "-c", path)
        XCTAssertEqual(r.stdout, "no changes\n", r.stderr, file: file, line: line)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
    }

    /// Replaces our all-zero entry toward `dst` with one another tool made toward the same
    /// destination but another UDP port and VNI (the example).
    func driftEntry(_ ns: Namespace, _ dst: String) {
        XCTAssertEqual(sh(["bridge", "-n", ns.name, "fdb", "del", "00:00:00:00:00:00", "dev", "gp0", "dst", dst]).status, 0)
        XCTAssertEqual(sh(["bridge", "-n", ns.name, "fdb", "append", "00:00:00:00:00:00", "dev", "gp0", "dst", dst,
                           "port", "8472", "vni", "20"]).status, 0)
    }

    func entry(_ ns: Namespace, _ dst: String) -> [String: Any]? { ns.fdb("gp0").first { $0["dst"] as? String == dst } }

    /// Item 3: a rewritten entry toward a configured peer is drift, and apply puts ours back.
    func testFDBEntryWithAnotherPortAndVNIIsDriftAndRepaired() throws {
        let ns = try makePeerNamespace()
        let cfg = writeConfig(configJSON(linkJSON()))
        applyOK(ns, cfg)
        driftEntry(ns, "100.64.152.4")
        let plan = ns.gatepeer("plan", "-c", cfg)
        XCTAssertEqual(plan.stdout, """
        - fdb gp0 00:00:00:00:00:00 dst 100.64.152.4 port 8472 vni 20 (not as gatepeer makes it)
        + fdb gp0 00:00:00:00:00:00 dst 100.64.152.4

        """, plan.stderr)
        let run = ns.gatepeer("status", "-c", cfg)
        let status = run.stdout
        XCTAssertEqual(run.status, 3, "drift is degraded")
        XCTAssertFalse(status.contains("in sync with the config"), status)
        XCTAssertTrue(status.contains("  peers 100.64.152.132 unknown\n"), "the drifted entry is no gate peer:\n\(status)")
        XCTAssertTrue(status.contains("  fdb to remove: 00:00:00:00:00:00 dst 100.64.152.4 port 8472 vni 20 (not as gatepeer makes it)"), status)
        applyOK(ns, cfg)
        let e = try XCTUnwrap(entry(ns, "100.64.152.4"))
        XCTAssertNil(e["port"], "\(e)")
        XCTAssertNil(e["vni"], "\(e)")
        XCTAssertEqual(ns.fdb("gp0").count, 2)
        assertNoChanges(ns, cfg)
    }

    /// Item 3: the entry of a peer removed from the config, drifted the same way, is really
    /// deleted (the delete carries its port and VNI), not reported as applied while it stays.
    func testDriftedEntryOfARemovedPeerIsReallyDeleted() throws {
        let ns = try makePeerNamespace()
        applyOK(ns, writeConfig(configJSON(linkJSON())))
        driftEntry(ns, "100.64.152.4")
        let cfg = writeConfig(configJSON(linkJSON(peers: ["100.64.152.132"])))
        let r = ns.gatepeer("apply", "-c", cfg)
        XCTAssertEqual(r.status, 0, r.stderr)
        // The VXLAN guard's peer set loses the peer too: the table is reloaded with it,
        // first (the table goes in before any link change).
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, r.stdout)
        XCTAssertTrue(lines.first?.hasPrefix("~ nftables table inet gatepeer") ?? false, r.stdout)
        XCTAssertEqual(lines.last, "- fdb gp0 00:00:00:00:00:00 dst 100.64.152.4 port 8472 vni 20 (not a configured peer)")
        XCTAssertTrue(r.stderr.contains("2 of 2 change(s) applied"), r.stderr)
        XCTAssertEqual(ns.fdb("gp0").compactMap { $0["dst"] as? String }, ["100.64.152.132"])
        assertNoChanges(ns, cfg)
        // And the second apply has nothing left to (pretend to) do.
        XCTAssertEqual(ns.gatepeer("apply", "-c", cfg).stdout, "")
    }

    /// Item 2 (FDB part): entries on our device toward a host that is not a configured
    /// peer, of any MAC, are flushed.
    func testEntriesTowardANonPeerAreFlushed() throws {
        let ns = try makePeerNamespace()
        let cfg = writeConfig(configJSON(linkJSON()))
        applyOK(ns, cfg)
        XCTAssertEqual(sh(["bridge", "-n", ns.name, "fdb", "add", "02:00:00:00:00:01", "dev", "gp0", "dst", "172.31.0.10"]).status, 0)
        XCTAssertEqual(sh(["bridge", "-n", ns.name, "fdb", "append", "00:00:00:00:00:00", "dev", "gp0", "dst", "172.31.0.10"]).status, 0)
        let plan = ns.gatepeer("plan", "-c", cfg).stdout
        XCTAssertEqual(Set(plan.split(separator: "\n")), [
            "- fdb gp0 02:00:00:00:00:01 dst 172.31.0.10 (not a configured peer)",
            "- fdb gp0 00:00:00:00:00:00 dst 172.31.0.10 (not a configured peer)",
        ])
        applyOK(ns, cfg)
        XCTAssertEqual(Set(ns.fdb("gp0").compactMap { $0["dst"] as? String }), ["100.64.152.4", "100.64.152.132"])
        XCTAssertFalse(ns.fdb("gp0").contains { $0["mac"] as? String == "02:00:00:00:00:01" })
        assertNoChanges(ns, cfg)
    }

    /// Item 4: a vendor's device on our VNI, port and family under another name is a
    /// plan-time blocker naming it and the config field; the kernel is never asked.
    func testForeignDeviceHoldingTheVNIBlocksAtPlanTime() throws {
        let ns = try makePeerNamespace()
        ns.ip("link", "add", "vxlan0", "type", "vxlan", "id", "10", "local", "172.31.0.254", "dstport", "4789", "dev", "eth0")
        assertBlockedAtPlanTime(ns, "links[0].vxlanId: VNI 10 port 4789 (IPv4) is held by device vxlan0, which gatepeer does not own")
    }

    /// The config's link is blocked at plan time with `blocker`: plan and apply exit 1
    /// naming it, the kernel is never asked, and nothing in the namespace changes.
    func assertBlockedAtPlanTime(_ ns: Namespace, _ blocker: String, file: StaticString = #filePath, line: UInt = #line) {
        let before = ns.snapshot()
        let cfg = writeConfig(configJSON(linkJSON()))
        let plan = ns.gatepeer("plan", "-c", cfg)
        XCTAssertEqual(plan.status, 1, file: file, line: line)
        XCTAssertTrue(plan.stderr.contains(blocker), plan.stderr, file: file, line: line)
        XCTAssertFalse(plan.stdout.contains("gp0"), plan.stdout, file: file, line: line)
        let r = ns.gatepeer("apply", "-c", cfg)
        XCTAssertEqual(r.status, 1, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(blocker), r.stderr, file: file, line: line)
        XCTAssertFalse(r.stderr.contains("failed"), "the kernel was not asked: \(r.stderr)", file: file, line: line)
        XCTAssertNil(ns.link("gp0"), file: file, line: line)
        XCTAssertEqual(ns.snapshot(), before, file: file, line: line)
    }

    /// Round 2 item 1: `bridge fdb replace <MAC> dev gp0 dst <peer> self permanent` pins a
    /// MAC to the wrong gate peer; it is drift, planned and deleted. An entry in the state
    /// the kernel gives a learned one (vxlan_snoop: NUD_REACHABLE, NTF_SELF; `bridge fdb
    /// add ... dynamic` files exactly that, shown as state "" like a learned entry) is kept.
    func testPermanentNonZeroEntryTowardAPeerIsDeletedALearnedOneKept() throws {
        let ns = try makePeerNamespace()
        let cfg = writeConfig(configJSON(linkJSON()))
        applyOK(ns, cfg)
        XCTAssertEqual(sh(["bridge", "-n", ns.name, "fdb", "replace", "02:00:00:00:00:07", "dev", "gp0", "dst", "100.64.152.4", "self", "permanent"]).status, 0)
        XCTAssertEqual(sh(["bridge", "-n", ns.name, "fdb", "add", "02:00:00:00:00:08", "dev", "gp0", "dst", "100.64.152.4", "self", "static"]).status, 0)
        XCTAssertEqual(sh(["bridge", "-n", ns.name, "fdb", "add", "02:00:00:00:00:09", "dev", "gp0", "dst", "100.64.152.132", "self", "dynamic"]).status, 0)
        let learned = ns.fdb("gp0").first { $0["mac"] as? String == "02:00:00:00:00:09" }
        XCTAssertEqual(learned?["state"] as? String, "", "the state of a learned entry")
        let plan = ns.gatepeer("plan", "-c", cfg).stdout
        XCTAssertEqual(Set(plan.split(separator: "\n")), [
            "- fdb gp0 02:00:00:00:00:07 dst 100.64.152.4 (not learned by the kernel)",
            "- fdb gp0 02:00:00:00:00:08 dst 100.64.152.4 state 0x42 (not learned by the kernel)",
        ])
        applyOK(ns, cfg)
        let macs = Set(ns.fdb("gp0").compactMap { $0["mac"] as? String })
        XCTAssertEqual(macs, ["00:00:00:00:00:00", "02:00:00:00:00:09"])
        assertNoChanges(ns, cfg)
    }

    /// Round 2 item 2: an up collect-metadata device on our port and family holds a UDP
    /// socket ours cannot share (other receive options): blocked at plan time, naming it
    /// and links[0].port; nothing is created.
    func testForeignDeviceHoldingThePortWithOtherReceiveOptionsBlocksAtPlanTime() throws {
        let ns = try makePeerNamespace()
        ns.ip("link", "add", "vxext", "type", "vxlan", "external", "dstport", "4789")
        ns.ip("link", "set", "vxext", "up")
        assertBlockedAtPlanTime(ns, "links[0].port: UDP port 4789 (IPv4) is held by device vxext (up, receive options external)")
    }

    /// Round 2 item 3: our device taken down while a foreign device took the port: the
    /// link is blocked and nothing else is to do; `plan` must not say a bare "no changes"
    /// (which reads as converged) while it exits 1. The device is kept.
    func testPlanWithOnlyABlockedLinkDoesNotSayABareNoChanges() throws {
        let ns = try makePeerNamespace()
        let cfg = writeConfig(configJSON(linkJSON()))
        applyOK(ns, cfg)
        ns.ip("link", "set", "gp0", "down")
        ns.ip("link", "add", "vxext", "type", "vxlan", "external", "dstport", "4789")
        ns.ip("link", "set", "vxext", "up")
        let plan = ns.gatepeer("plan", "-c", cfg)
        XCTAssertEqual(plan.status, 1)
        XCTAssertEqual(plan.stdout, "no changes (1 blocked: see stderr)\n", plan.stderr)
        XCTAssertTrue(plan.stderr.contains("blocked: links[0].port: UDP port 4789 (IPv4) is held by device vxext"), plan.stderr)
        XCTAssertEqual(ns.gatepeer("apply", "-c", cfg).status, 1)
        XCTAssertNotNil(ns.link("gp0"), "a blocked link's device is kept")
        ns.ip("link", "del", "vxext")
        applyOK(ns, cfg)
        assertNoChanges(ns, cfg)
    }

    /// Item 4, sibling: a device whose alternative name is our link's name.
    func testAltnameHoldingOurNameBlocksAtPlanTime() throws {
        let ns = try makePeerNamespace()
        // Two altnames: the second one is ours (they repeat one attribute type).
        ns.ip("link", "property", "add", "dev", "eth1", "altname", "uplink9")
        ns.ip("link", "property", "add", "dev", "eth1", "altname", "gp0")
        let r = ns.gatepeer("apply", "-c", writeConfig(configJSON(linkJSON())))
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("links[0].name: gp0 is an alternative name of device eth1"), r.stderr)
        XCTAssertFalse(r.stderr.contains("failed"), r.stderr)
    }

    /// Item 5: a device exactly as apply creates it, but without the marker (the apply was
    /// killed between the two requests), is adopted; one attribute off and it is foreign.
    func testUnmarkedDeviceFromAnInterruptedCreateIsAdopted() throws {
        let ns = try makePeerNamespace()
        let mac = MACAddress.derived(fromLinkName: "gp0").description
        ns.ip("link", "add", "gp0", "address", mac, "mtu", "1450", "type", "vxlan", "id", "10", "dstport", "4789",
              "srcport", "4789", "4790", "local", "172.31.0.254", "dev", "eth0")
        let cfg = writeConfig(configJSON(linkJSON()))
        let plan = ns.gatepeer("plan", "-c", cfg)
        XCTAssertEqual(plan.status, 0, plan.stderr)
        // The table goes first (before any link change), then the adoption.
        XCTAssertTrue(plan.stdout.contains("\n~ link gp0 alias none -> gatepeer:gp0 (adopting a device left by an interrupted apply)\n"), plan.stdout)
        let index = ns.link("gp0")?["ifindex"] as? Int
        applyOK(ns, cfg)
        XCTAssertEqual(ns.link("gp0")?["ifindex"] as? Int, index, "adopted, not recreated")
        XCTAssertEqual(ns.link("gp0")?["ifalias"] as? String, "gatepeer:gp0")
        assertNoChanges(ns, cfg)

        // Another MAC: not what we would have made.
        XCTAssertEqual(ns.gatepeer("down").status, 0)
        ns.ip("link", "add", "gp0", "address", "02:00:00:00:00:99", "type", "vxlan", "id", "10", "dstport", "4789",
              "srcport", "4789", "4790", "local", "172.31.0.254", "dev", "eth0")
        let r = ns.gatepeer("apply", "-c", cfg)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("links[0].name: device gp0 exists and is not gatepeer's"), r.stderr)
        XCTAssertNil(ns.link("gp0")?["ifalias"])
    }

    /// Item 8: a bridge with a gatepeer: alias, a vxlan whose alias names another device and
    /// a protocol-201 route through the underlay are not ours: apply and down leave them,
    /// plan reports them as warnings.
    func testLookAlikesAreReportedAndNeverTouched() throws {
        let ns = try makePeerNamespace()
        ns.ip("link", "add", "br0", "type", "bridge")
        ns.ip("link", "set", "br0", "alias", "gatepeer:br0")
        ns.ip("link", "add", "x", "type", "vxlan", "id", "99", "dstport", "4790", "local", "172.31.0.254", "dev", "eth0")
        ns.ip("link", "set", "x", "alias", "gatepeer:y")
        ns.ip("route", "add", "198.51.100.0/24", "via", "172.31.0.1", "dev", "eth0", "proto", "201")
        let cfg = writeConfig(configJSON(linkJSON()))
        func assertAllThere(_ when: String) {
            XCTAssertEqual(ns.link("br0")?["ifalias"] as? String, "gatepeer:br0", when)
            XCTAssertEqual(ns.link("x")?["ifalias"] as? String, "gatepeer:y", when)
            XCTAssertEqual(ns.routes("proto", "201").filter { $0["dst"] as? String == "198.51.100.0/24" }.count, 1, when)
        }
        let plan = ns.gatepeer("plan", "-c", cfg)
        XCTAssertEqual(plan.status, 0, plan.stderr)
        XCTAssertTrue(plan.stderr.contains("warning: link br0 (kind bridge) has alias \"gatepeer:br0\" but is not gatepeer's"), plan.stderr)
        XCTAssertTrue(plan.stderr.contains("warning: link x (kind vxlan) has alias \"gatepeer:y\" but is not gatepeer's"), plan.stderr)
        XCTAssertTrue(plan.stderr.contains("warning: route 198.51.100.0/24 via 172.31.0.1 dev eth0 has protocol 201 but is not gatepeer's"), plan.stderr)
        XCTAssertFalse(plan.stdout.contains("br0") || plan.stdout.contains("link x") || plan.stdout.contains("198.51.100"), plan.stdout)
        applyOK(ns, cfg)
        assertAllThere("after apply")
        XCTAssertTrue(ns.gatepeer("status", "-c", cfg).stdout.contains("warning: link br0"))
        let down = ns.gatepeer("down")
        XCTAssertEqual(down.status, 0, down.stderr)
        XCTAssertNil(ns.link("gp0"))
        assertAllThere("after down")
    }

    /// Read-back: a change the kernel refuses is named and not counted. A UDP socket on
    /// port 4789 in the namespace makes bringing the device up fail (EADDRINUSE), which
    /// no plan can see; the route behind it fails with it.
    func testRefusedChangesAreNamedNotCountedAndTheNextApplyConverges() throws {
        let ns = try makePeerNamespace()
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["ip", "netns", "exec", ns.name, "socat", "-u", "UDP-RECV:4789", "OPEN:/dev/null"]
        try holder.run()
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() } }
        // socat binds before it waits; wait until the socket is there, not for a fixed time.
        let deadline = Date().addingTimeInterval(10)
        while !ns.exec(["ss", "-Huln", "sport", "= :4789"]).stdout.contains("4789") && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let cfg = writeConfig(configJSON(linkJSON()))
        let r = ns.gatepeer("apply", "-c", cfg)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("failed: set link gp0 up: Address already in use"), r.stderr)
        XCTAssertTrue(r.stderr.contains("not taken by the kernel: ~ link gp0 state down -> up"), r.stderr)
        XCTAssertTrue(r.stderr.contains("not taken by the kernel: + route 192.168.10.0/24"), r.stderr)
        // 10 changes: link, 2 sysctls, 2 FDB entries, address, up, route, the table
        // (its VXLAN guard) and forwarding; the device's up and the route were not taken.
        XCTAssertTrue(r.stderr.contains("apply: 8 of 10 change(s) applied"), r.stderr)
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        applyOK(ns, cfg)
        assertNoChanges(ns, cfg)
    }
}

/// Round 2 item 1 on the lab, the reviewer's example: the MAC of the VPG that answers for
/// dev2 pinned by hand toward the other VPG misroutes everything sent to it. The entry the
/// kernel learned is in sync; the pinned one is planned for deletion, deleted, and the
/// path works again. (Both VPGs proxy-ARP for every device; whichever answered first is
/// the one the peer uses.)
final class OwnershipLabTests: LabTestCase {
    func inPeer(_ args: [String]) -> Run { sh(["ip", "netns", "exec", node("peer")] + args) }
    func json(_ text: String) -> [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? []
    }

    func testPinnedVPGMACTowardTheWrongPeerIsDriftTheLearnedOneIsNot() throws {
        let config = packageRoot.appendingPathComponent("netconfig/lab.json").path
        XCTAssertEqual(inPeer([gatepeerBinary, "apply", "-c", config]).status, 0)
        XCTAssertEqual(ping(from: "backend", "10.129.3.7").status, 0)
        let neighbour = try XCTUnwrap(json(inPeer(["ip", "-j", "neigh", "show", "10.129.3.7", "dev", "gp0"]).stdout).first)
        let mac = try XCTUnwrap(neighbour["lladdr"] as? String)
        let macs = try ["vpg1", "vpg2"].map { try XCTUnwrap(json(sh(["ip", "-n", node($0), "-j", "link", "show", "vxlan10"]).stdout).first?["address"] as? String) }
        let (vtep, other) = mac == macs[0] ? ("100.64.152.4", "100.64.152.132") : ("100.64.152.132", "100.64.152.4")
        XCTAssertTrue(macs.contains(mac), "dev2 resolved to a VPG's vxlan10 MAC")
        let learned = json(inPeer(["bridge", "-j", "fdb", "show", "dev", "gp0"]).stdout).first { $0["mac"] as? String == mac }
        XCTAssertEqual(learned?["dst"] as? String, vtep, "learned from the VPG that answered")
        XCTAssertEqual(learned?["state"] as? String, "", "a learned entry")
        XCTAssertEqual(inPeer([gatepeerBinary, "plan", "-c", config]).stdout, "no changes\n", "a learned entry is in sync")

        XCTAssertEqual(inPeer(["bridge", "fdb", "replace", mac, "dev", "gp0", "dst", other, "self", "permanent"]).status, 0)
        XCTAssertNotEqual(ping(from: "backend", "10.129.3.7").status, 0, "the pinned entry misroutes the traffic")
        let plan = inPeer([gatepeerBinary, "plan", "-c", config])
        XCTAssertEqual(plan.stdout, "- fdb gp0 \(mac) dst \(other) (not learned by the kernel)\n", plan.stderr)
        XCTAssertEqual(inPeer([gatepeerBinary, "apply", "-c", config]).status, 0)
        XCTAssertFalse(json(inPeer(["bridge", "-j", "fdb", "show", "dev", "gp0"]).stdout).contains {
            $0["mac"] as? String == mac && $0["dst"] as? String == other })
        XCTAssertEqual(ping(from: "backend", "10.129.3.7").status, 0)
    }
}
