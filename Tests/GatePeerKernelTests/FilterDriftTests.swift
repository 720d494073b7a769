import Foundation
import XCTest

/// Edits to table inet gatepeer made outside gatepeer (nft by hand, another tool) are
/// seen by plan and status and repaired by apply and by the daemon's resync; so are a
/// staging table left by an interrupted load and grant elements deleted by hand.
/// (An extension: the lab's servers are FilterLabTests' own.)
extension FilterLabTests {
    func nft(_ args: String...) -> Run { inNode("peer", ["nft"] + args) }

    func plan() -> Run { gatepeer("plan", "-c", filterConfig) }

    func applied(file: StaticString = #filePath, line: UInt = #line) {
        let r = gatepeer("apply", "-c", filterConfig)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr, file: file, line: line)
    }

    func noChanges(file: StaticString = #filePath, line: UInt = #line) {
        let p = plan()
        XCTAssertEqual(p.stdout, "no changes\n", p.stderr, file: file, line: line)
    }

    /// The issue's example: `nft flush table` leaves the counters and opened everything.
    func testFlushedTableIsSeenByPlanAndStatusAndRepairedByApply() throws {
        applied()
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "tcp/22 is denied by policy")
        XCTAssertEqual(nft("flush", "table", "inet", "gatepeer").status, 0)
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "a flushed table lets the denied destination through")

        let p = plan()
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertTrue(p.stdout.contains("~ nftables table inet gatepeer: content differs from what gatepeer loaded"), p.stdout)
        XCTAssertTrue(p.stdout.contains("chain forward: 0 rules, want 4"), p.stdout)
        let status = try statusJSON()
        XCTAssertEqual(status["inSync"] as? Bool, false)
        XCTAssertEqual((status["filter"] as? [String: Any])?["inSync"] as? Bool, false)
        XCTAssertTrue(gatepeer("status", "-c", filterConfig).stdout.contains("filter: table inet gatepeer edited outside gatepeer"))

        let a = gatepeer("apply", "-c", filterConfig)
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.contains("~ nftables table inet gatepeer"), a.stdout)
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "denied again after the repair")
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 443).status, 0, "allowed traffic flows")
        noChanges()
        XCTAssertEqual(try statusJSON()["inSync"] as? Bool, true)
        // Plans after gatepeer's own load use what it recorded (the nf_tables generation did
        // not move); a commit by anyone else, even one that changes nothing, makes the next
        // plan read the whole table back, and that read agrees with the load too.
        XCTAssertEqual(inNode("peer", ["nft", "-f", "-"], stdin: "table inet gpother {}\ndelete table inet gpother\n").status, 0)
        noChanges()
        noChanges()
    }

    /// Each kind of edit that keeps the counters: seen by plan, repaired by apply.
    func testEditsOutsideGatepeerAreSeenAndRepaired() throws {
        applied()
        noChanges()
        func handle(_ chain: String, _ rule: String) -> String {
            let out = nft("-a", "list", "chain", "inet", "gatepeer", chain).stdout
            for l in out.split(separator: "\n") where l.contains(rule) {
                if let r = l.range(of: "# handle ") { return String(l[r.upperBound...]) }
            }
            XCTFail("no rule \(rule) in chain \(chain):\n\(out)")
            return "0"
        }
        /// The element of a destination map holding `address`, as nft prints its key.
        func element(_ map: String, _ address: String) -> String {
            let out = nft("get", "element", "inet", "gatepeer", map, "{ \(address) }").stdout
            guard let open = out.range(of: "elements = { ") else { XCTFail(out); return address }
            return String(out[open.upperBound...].prefix { $0 != ":" && $0 != "}" }).trimmingCharacters(in: .whitespaces)
        }
        let edits: [(String, () -> [String])] = [
            ("delete one rule", { ["delete", "rule", "inet", "gatepeer", "forward", "handle", handle("forward", "ct state established,related accept")] }),
            ("insert a rule", { ["insert", "rule", "inet", "gatepeer", "outbound", "accept"] }),
            ("change a chain policy", { ["add", "chain", "inet", "gatepeer", "forward", "{ type filter hook forward priority filter; policy drop; }"] }),
            ("delete a chain", { ["delete", "chain", "inet", "gatepeer", "mss_clamp"] }),
            ("flush a small set", { ["flush", "set", "inet", "gatepeer", "backends4"] }),
            ("delete an element of a destination map", { ["delete", "element", "inet", "gatepeer", "g0_dst4", "{ \(element("g0_dst4", "203.0.113.53")) }"] }),
            ("add an element by hand", { ["add", "element", "inet", "gatepeer", "groups4", "{ 100.100.0.0/16 : goto g0 }"] }),
        ]
        for (what, command) in edits {
            let args = command()
            let e = inNode("peer", ["nft"] + args)
            XCTAssertEqual(e.status, 0, "\(what): nft \(args.joined(separator: " ")): \(e.stderr)")
            let p = plan()
            XCTAssertTrue(p.stdout.contains("~ nftables table inet gatepeer: content differs from what gatepeer loaded"), "\(what): \(p.stdout)")
            XCTAssertEqual(try statusJSON()["inSync"] as? Bool, false, what)
            applied()
            let after = plan()
            XCTAssertEqual(after.stdout, "no changes\n", "\(what): not repaired: \(after.stdout)")
        }
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.53", 443).status, 0, "rules[3] denies again")
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 443).status, 0)
    }

    func testStagingTableLeftByAnInterruptedLoadIsRemoved() throws {
        applied()
        XCTAssertEqual(nft("add", "table", "inet", "gatepeer_stage", "{ flags dormant; }").status, 0)
        XCTAssertEqual(nft("add", "chain", "inet", "gatepeer_stage", "forward", "{ type filter hook forward priority filter; policy accept; }").status, 0)
        let p = plan()
        XCTAssertEqual(p.stdout, "- nftables table inet gatepeer_stage (left by an interrupted load)\n", p.stderr)
        applied()
        XCTAssertFalse(nft("list", "tables").stdout.contains("gatepeer_stage"))
        noChanges()
        // down removes it as well, with or without the live table.
        XCTAssertEqual(nft("add", "table", "inet", "gatepeer_stage", "{ flags dormant; }").status, 0)
        XCTAssertEqual(gatepeer("down", "-c", filterConfig).status, 0)
        XCTAssertEqual(nft("list", "tables").stdout.contains("gatepeer"), false, nft("list", "tables").stdout)
    }

    func testGrantElementDeletedByHandIsPutBack() throws {
        applied()
        let g = gatepeer("filter", "grant", "--from", "10.128.0.11", "--to", "203.0.113.10", "--proto", "tcp", "--port", "22", "--for", "1h", "-c", filterConfig)
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0)
        noChanges()
        XCTAssertEqual(nft("flush", "set", "inet", "gatepeer", "grants4").status, 0)
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0)
        let p = plan()
        XCTAssertEqual(p.stdout, "+ nftables element grants4 { 10.128.0.11/32 . 203.0.113.10/32 . 6 . 22 }\n", p.stderr)
        applied()
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "the grant is back")
        noChanges()
        // An element no state file explains is removed.
        XCTAssertEqual(nft("add", "element", "inet", "gatepeer", "grants4a", "{ 10.128.0.0/16 . 0.0.0.0/0 timeout 1h }").status, 0)
        let q = plan()
        XCTAssertEqual(q.stdout, "- nftables element grants4a { 10.128.0.0/16 . 0.0.0.0/0 } (no grant explains it)\n", q.stderr)
        applied()
        XCTAssertFalse(nft("list", "set", "inet", "gatepeer", "grants4a").stdout.contains("10.128.0.0/16"))
        noChanges()
    }

    func testDaemonResyncRepairsAFlush() throws {
        let state = stateDir()
        let log = state.deletingLastPathComponent().appendingPathComponent(state.lastPathComponent + ".log")
        addTeardownBlock { try? FileManager.default.removeItem(at: log) }
        background("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary, "run", "-c", filterConfig, "--resync", "1"], log: log)
        XCTAssertTrue(eventually(15) { self.plan().stdout == "no changes\n" }, "the daemon never converged")
        XCTAssertEqual(nft("flush", "table", "inet", "gatepeer").status, 0)
        XCTAssertTrue(eventually(10) { self.plan().stdout == "no changes\n" },
                      "the daemon did not repair the flush: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0)
    }

    /// Item 2: any host on the underlay could send VXLAN to the peer's outer address and
    /// be taken for a device. The backend (172.31.0.10, on the peer's underlay) makes its
    /// own vxlan device toward the peer and pings the peer's inner address: dropped by the
    /// guard (counted), never learned into the FDB; the configured VPGs still get through.
    /// With and without a filter section: the guard is there whenever links are.
    /// The vxlan socket is bound to the wildcard address, so VXLAN to any other local
    /// address of the peer reaches gp0 as well: the internet namespace sends to the
    /// peer's uplink address (192.0.2.1) and is dropped and counted just the same.
    func testOnlyConfiguredPeersReachTheVXLANPort() throws {
        // (namespace, its underlay address, the peer's address it sends to, the rogue's inner address)
        let rogues = [("backend", "172.31.0.10", "172.31.0.254", "10.255.255.77"), ("inet", "192.0.2.2", "192.0.2.1", "10.255.255.78")]
        for (node, local, remote, inner) in rogues {
            let add = inNode(node, ["ip", "link", "add", "rogue10", "type", "vxlan", "id", "10", "dstport", "4789",
                                    "local", local, "remote", remote, "dev", "eth0"])
            XCTAssertEqual(add.status, 0, add.stderr)
            // Host routes only: the internet namespace routes 10.128.0.0/9 to the peer.
            XCTAssertEqual(inNode(node, ["ip", "addr", "add", inner + "/32", "dev", "rogue10"]).status, 0)
            XCTAssertEqual(inNode(node, ["ip", "link", "set", "rogue10", "up"]).status, 0)
            XCTAssertEqual(inNode(node, ["ip", "route", "add", "10.255.255.254/32", "dev", "rogue10"]).status, 0)
        }
        // Another tool's VXLAN on the same port (VNI 11, which no link of ours has).
        XCTAssertEqual(inNode("inet", ["ip", "link", "add", "other11", "type", "vxlan", "id", "11", "dstport", "4789",
                                       "local", "192.0.2.2", "remote", "192.0.2.1", "dev", "eth0"]).status, 0)
        XCTAssertEqual(inNode("inet", ["ip", "addr", "add", "10.77.0.2/24", "dev", "other11"]).status, 0)
        XCTAssertEqual(inNode("inet", ["ip", "link", "set", "other11", "up"]).status, 0)
        func dropped(_ config: String) throws -> Int {
            let status = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(gatepeer("status", "--json", "-c", config).stdout.utf8)) as? [String: Any])
            let guards = try XCTUnwrap((status["filter"] as? [String: Any])?["vxlanGuard"] as? [[String: Any]], "\(status)")
            XCTAssertEqual(guards.first?["link"] as? String, "gp0")
            return guards.first?["droppedPackets"] as? Int ?? 0
        }
        for config in [plainConfig, filterConfig] {
            let a = gatepeer("apply", "-c", config)
            XCTAssertEqual(a.status, 0, a.stdout + a.stderr)
            _ = inNode("peer", ["bridge", "fdb", "flush", "dev", "gp0", "dynamic"])
            var before = try dropped(config)
            for (node, local, remote, _) in rogues {
                let r = inNode(node, ["ping", "-c", "2", "-W", "2", "-I", "rogue10", "10.255.255.254"])
                XCTAssertNotEqual(r.status, 0, "\(config): \(node), no configured peer, reached the peer through VXLAN to \(remote)")
                let fdb = inNode("peer", ["bridge", "fdb", "show", "dev", "gp0"]).stdout
                XCTAssertFalse(fdb.contains("dst \(local) "), "\(config): learned an FDB entry toward a non-peer:\n\(fdb)")
                let after = try dropped(config)
                XCTAssertGreaterThanOrEqual(after - before, 1, "\(config): the guard did not count VXLAN from \(node) to \(remote)")
                before = after
            }
            XCTAssertGreaterThanOrEqual(before, 2)
            // The guard matches our VNI only (@th,96,24): VNI 11 is not counted as ours.
            _ = inNode("inet", ["ping", "-c", "2", "-W", "1", "-I", "other11", "10.77.0.1"])
            XCTAssertEqual(try dropped(config), before, "\(config): the guard took VXLAN with a VNI none of our links has")
            XCTAssertTrue(gatepeer("status", "-c", config).stdout.contains("vxlan guard gp0: "), "text status names the link's drops")
            // The configured VPGs still carry traffic.
            XCTAssertEqual(ping(from: "backend", "10.128.0.11").status, 0, config)
            XCTAssertEqual(ping(from: "backend", "10.129.3.7").status, 0, config)
            XCTAssertEqual(plan().status, 0)
        }
        // Without the table there is no guard: status says so, it does not count 0 drops.
        XCTAssertEqual(nft("delete", "table", "inet", "gatepeer").status, 0)
        let text = gatepeer("status", "-c", filterConfig).stdout
        XCTAssertTrue(text.contains("  vxlan guard gp0: missing (table inet gatepeer absent)\n"), text)
        XCTAssertFalse(text.contains("0 packets from non-peers dropped"), text)
        let status = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(gatepeer("status", "--json", "-c", filterConfig).stdout.utf8)) as? [String: Any])
        let guards = try XCTUnwrap((status["filter"] as? [String: Any])?["vxlanGuard"] as? [[String: Any]], "\(status)")
        XCTAssertEqual(guards.first?["present"] as? Bool, false, "\(guards)")
        XCTAssertTrue(guards.first?["droppedPackets"] is NSNull, "\(guards)")
        // down removes the table with the guard.
        XCTAssertEqual(gatepeer("down", "-c", plainConfig).status, 0)
        XCTAssertFalse(nft("list", "tables").stdout.contains("gatepeer"))
    }

    /// The guard also checks the interface: a host on the internet side that spoofs a
    /// gate peer's address (100.64.152.4) is dropped and counted, not let in as the VPG.
    /// And a blocked change of the link's port never moves the guard off the tunnel the
    /// kernel still runs: with port 8472 held by a foreign device (a blocker), the guard
    /// keeps port 4789 covered and the rogue from the underlay stays out.
    func testSpoofedPeerFromTheUplinkAndABlockedPortChangeStayGuarded() throws {
        XCTAssertEqual(gatepeer("apply", "-c", filterConfig).status, 0)
        func dropped() -> Int {
            let out = nft("-j", "list", "counter", "inet", "gatepeer", "vx0_drop").stdout
            guard let range = out.range(of: "\"packets\": ") ?? out.range(of: "\"packets\":") else { return -1 }
            return Int(out[range.upperBound...].prefix { $0.isNumber }) ?? -1
        }
        // The internet namespace claims vpg1's address and sends VXLAN (VNI 10) to the uplink.
        for args in [["ip", "addr", "add", "100.64.152.4/32", "dev", "lo"],
                     ["ip", "link", "add", "spoof10", "type", "vxlan", "id", "10", "dstport", "4789", "local", "100.64.152.4", "remote", "192.0.2.1"],
                     ["ip", "addr", "add", "10.255.255.79/32", "dev", "spoof10"], ["ip", "link", "set", "spoof10", "up"],
                     ["ip", "route", "add", "10.255.255.254/32", "dev", "spoof10"]] {
            let r = inNode("inet", args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
        }
        var before = dropped()
        XCTAssertNotEqual(inNode("inet", ["ping", "-c", "2", "-W", "2", "-I", "spoof10", "10.255.255.254"]).status, 0,
                          "a spoofed gate peer on the uplink reached the peer through VXLAN")
        XCTAssertGreaterThan(dropped(), before, "the guard did not count the spoofed peer")
        let mac = inNode("inet", ["cat", "/sys/class/net/spoof10/address"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(inNode("peer", ["bridge", "fdb", "show", "dev", "gp0"]).stdout.contains(mac), "learned the spoofer's MAC")

        // A blocked port change: a foreign collect-metadata device holds 8472.
        XCTAssertEqual(inNode("peer", ["ip", "link", "add", "vxext", "type", "vxlan", "external", "dstport", "8472"]).status, 0)
        XCTAssertEqual(inNode("peer", ["ip", "link", "set", "vxext", "up"]).status, 0)
        let text = try String(contentsOfFile: filterConfig, encoding: .utf8).replacingOccurrences(of: "\"port\": 4789", with: "\"port\": 8472")
        let moved = writeConfig(text)
        let r = gatepeer("apply", "-c", moved)
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("links[0].port"), r.stderr)
        let chain = nft("list", "chain", "inet", "gatepeer", "vxlan_guard").stdout
        XCTAssertTrue(chain.contains("udp dport 4789 "), "the guard left the running tunnel's port:\n\(chain)")
        XCTAssertTrue(chain.contains("udp dport 8472 "), chain)
        // The rogue on the underlay (backend) is still dropped on the running port.
        for args in [["ip", "link", "add", "rogue10", "type", "vxlan", "id", "10", "dstport", "4789", "local", "172.31.0.10", "remote", "172.31.0.254", "dev", "eth0"],
                     ["ip", "addr", "add", "10.255.255.77/32", "dev", "rogue10"], ["ip", "link", "set", "rogue10", "up"],
                     ["ip", "route", "add", "10.255.255.254/32", "dev", "rogue10"]] {
            XCTAssertEqual(inNode("backend", args).status, 0, "\(args)")
        }
        before = dropped()
        XCTAssertNotEqual(inNode("backend", ["ping", "-c", "2", "-W", "2", "-I", "rogue10", "10.255.255.254"]).status, 0,
                          "a blocked port change opened the running tunnel")
        XCTAssertGreaterThan(dropped(), before)
        XCTAssertEqual(ping(from: "backend", "10.128.0.11").status, 0, "the configured VPGs still carry traffic")
        XCTAssertEqual(inNode("peer", ["ip", "link", "del", "vxext"]).status, 0)
    }

    /// A full load never opens the filter (one transaction, or the swap through the
    /// staging table for a reload): a denied destination probed without pause while
    /// the table is reloaded again and again never answers. (ICMP to 203.0.113.53 is
    /// denied by rules[3] in both policies; each apply changes the skeleton, so each is
    /// a full load, not a delta.)
    func testNoWindowWhileTheTableReloads() throws {
        let a = writeConfig(try policy(ports: [443, 993, 31314])), b = writeConfig(try policy(ports: [443, 993]))
        XCTAssertEqual(gatepeer("apply", "-c", a).status, 0)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-probe-\(prefix).txt")
        addTeardownBlock { try? FileManager.default.removeItem(at: log) }
        let probe = background("dev1", ["ping", "-n", "-i", "0.005", "-W", "1", "-w", "6", "203.0.113.53"], log: log)
        var reloads = 0
        for k in 0..<8 {
            let r = gatepeer("apply", "-c", k % 2 == 0 ? b : a)
            XCTAssertEqual(r.status, 0, r.stderr)
            if r.stdout.contains("~ nftables table inet gatepeer") { reloads += 1 }
        }
        probe.waitUntilExit()
        let out = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(reloads, 8, "every apply reloads the table")
        let summary = out.split(separator: "\n").first { $0.contains("packets transmitted") }.map(String.init) ?? ""
        let sent = Int(summary.split(separator: " ").first ?? "") ?? 0
        XCTAssertGreaterThan(sent, 100, "the probe ran through the reloads: \(summary)")
        XCTAssertTrue(summary.contains(" 0 received"), "a denied destination answered during a reload: \(summary)")
    }

    /// A map element deleted by hand, then a config change that is only an element delta
    /// elsewhere in the map: the delta must not carry the hole along as if it were loaded.
    func testElementDeletedByHandIsNotHiddenByALaterDelta() throws {
        applied()
        let out = nft("get", "element", "inet", "gatepeer", "g0_dst4", "{ 203.0.113.53 }").stdout
        let key = try XCTUnwrap(out.range(of: "elements = { ").map { String(out[$0.upperBound...].prefix { $0 != ":" && $0 != "}" }).trimmingCharacters(in: .whitespaces) }, out)
        XCTAssertEqual(nft("delete", "element", "inet", "gatepeer", "g0_dst4", "{ \(key) }").status, 0)
        // One more deny prefix: only g0_dst4's elements change.
        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: filterConfig))) as? [String: Any])
        var filter = doc["filter"] as! [String: Any]
        var groups = filter["outbound"] as! [[String: Any]]
        groups[0]["rules"] = (groups[0]["rules"] as! [[String: Any]]) + [["action": "deny", "destination": "198.18.0.0/24"]]
        filter["outbound"] = groups
        doc["filter"] = filter
        let more = writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
        let r = gatepeer("apply", "-c", more)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(nft("get", "element", "inet", "gatepeer", "g0_dst4", "{ 203.0.113.53 }").stdout, out, "the element deleted by hand is back")
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.53", 443).status, 0, "rules[3] denies")
        var p = gatepeer("plan", "-c", more)
        XCTAssertEqual(p.stdout, "no changes\n", p.stderr)
        // The same for a chain flushed by hand: the next delta-sized change loads in full.
        XCTAssertEqual(nft("flush", "chain", "inet", "gatepeer", "outbound").status, 0)
        let r2 = gatepeer("apply", "-c", filterConfig)
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "the flushed chain denies again")
        p = gatepeer("plan", "-c", filterConfig)
        XCTAssertEqual(p.stdout, "no changes\n", p.stderr)
    }
}

/// Round 2: the filter read cache (filter-read.txt) names the network namespace by its
/// cookie (SO_NETNS_COOKIE), never reused in a boot, not by its nsfs inode, which a
/// namespace deleted and made again under the same name (same state directory) can get
/// back; a fresh table whose generation equals the recorded one was then trusted.
final class FilterReadCacheKeyTests: KernelTestCase {
    /// Holds what the namespace thread found.
    final class Found: @unchecked Sendable { var cookie: UInt64? }

    /// The namespace's cookie, read apart from gatepeer: a thread of this test enters the
    /// namespace (setns changes only the calling thread), asks a socket, and ends.
    func cookie(_ ns: Namespace) -> UInt64? {
        let found = Found()
        let done = DispatchSemaphore(value: 0)
        let path = "/run/netns/" + ns.name
        Thread {
            defer { done.signal() }
            let nsfd = open(path, O_RDONLY | O_CLOEXEC)
            guard nsfd >= 0 else { return }
            defer { close(nsfd) }
            // Glibc's module does not export setns (it is _GNU_SOURCE): look it up.
            guard let sym = dlsym(nil, "setns") else { return }
            let setns = unsafeBitCast(sym, to: (@convention(c) (Int32, Int32) -> Int32).self)
            guard setns(nsfd, 0x4000_0000 /* CLONE_NEWNET */) == 0 else { return }
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { return }
            defer { close(fd) }
            var c: UInt64 = 0
            var len = socklen_t(MemoryLayout<UInt64>.size)
            if getsockopt(fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, &c, &len) == 0 { found.cookie = c }
        }.start()
        done.wait()
        return found.cookie
    }

    /// The key line of the namespace's filter-read.txt after an apply.
    func cacheKey(_ ns: Namespace, _ cfg: String) throws -> String {
        let a = ns.gatepeer("apply", "-c", cfg)
        XCTAssertEqual(a.status, 0, a.stdout + a.stderr)
        let file = namespaceStateDirectory(base: ProcessInfo.processInfo.environment["GATEPEER_STATE_DIR"]!, namespace: ns.name)
            .appendingPathComponent("filter-read.txt")
        let text = try String(contentsOf: file, encoding: .utf8)
        return try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("key ") }.map { String($0.dropFirst(4)) }, text)
    }

    func testCacheIsKeyedByTheNamespaceCookie() throws {
        let cfg = writeConfig(configJSON(linkJSON()))
        let boot = try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let a = try makePeerNamespace(), b = try makePeerNamespace()
        let ca = try XCTUnwrap(cookie(a), "SO_NETNS_COOKIE needs Linux 5.14"), cb = try XCTUnwrap(cookie(b))
        XCTAssertNotEqual(ca, cb, "two namespaces, one cookie")
        XCTAssertEqual(try cacheKey(a, cfg), "\(boot)/netns-\(ca)")
        XCTAssertEqual(try cacheKey(b, cfg), "\(boot)/netns-\(cb)")
        // Made again under the same name: a new cookie, so the old record is not trusted.
        a.destroy()
        XCTAssertEqual(sh(["ip", "netns", "add", a.name]).status, 0)
        let again = try XCTUnwrap(cookie(a))
        XCTAssertNotEqual(again, ca, "a recreated namespace kept its cookie")
        XCTAssertNotEqual(again, cb)
    }
}
