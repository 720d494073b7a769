import Foundation
import XCTest

/// The outbound filter, NAT, MSS clamping and the inbound guard with real traffic in the
/// lab: socat servers in the internet namespace, clients in the device namespaces.
final class FilterLabTests: LabTestCase {
    let filterConfig = packageRoot.appendingPathComponent("netconfig/lab-filter.json").path
    let plainConfig = packageRoot.appendingPathComponent("netconfig/lab.json").path

    override func setUpWithError() throws {
        try super.setUpWithError()
        // Every server answers with the address it saw, so NAT is visible to the client.
        for port in ["443", "22", "31314"] {
            background("inet", ["socat", "TCP-LISTEN:\(port),fork,reuseaddr", "SYSTEM:read -r _; echo peer=$SOCAT_PEERADDR"])
        }
        // Bound to the service address: an unbound UDP server would answer from the
        // address its route picks, which conntrack cannot match to the NATed flow.
        background("inet", ["socat", "UDP-RECVFROM:123,bind=198.51.100.20,fork", "SYSTEM:read -r _; echo peer=$SOCAT_PEERADDR"])
        waitForListener("inet", "203.0.113.10", 443)
    }

    func waitForListener(_ n: String, _ host: String, _ port: Int) {
        for _ in 0..<50 {
            if tcp(from: n, host, port).status == 0 { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTFail("no listener on \(host):\(port) in \(n)")
    }

    func udp(from n: String, _ host: String, _ port: Int) -> Run {
        inNode(n, ["socat", "-T2", "-t2", "-", "UDP:\(host):\(port)"], stdin: "x\n")
    }

    func statusJSON() throws -> [String: Any] {
        let r = gatepeer("status", "--json", "-c", filterConfig)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    func ruleCounts() throws -> [String: Int] {
        let rules = try XCTUnwrap((try statusJSON()["filter"] as? [String: Any])?["rules"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: rules.map { ($0["path"] as! String, $0["packets"] as! Int) })
    }

    func verdictCount(_ name: String) throws -> Int {
        let v = try XCTUnwrap((try statusJSON()["filter"] as? [String: Any])?["verdicts"] as? [String: Any])
        return (v[name] as? [String: Any])?["packets"] as? Int ?? -1
    }

    func testDevicesReachExactlyTheAllowedDestinationsThroughNAT() throws {
        let apply = gatepeer("apply", "-c", filterConfig)
        XCTAssertEqual(apply.status, 0, apply.stderr)

        // (what, run, expected reachable, filter check arguments, the rule that decides)
        let cases: [(String, () -> Run, Bool, [String], String)] = [
            ("tcp 203.0.113.10:443", { self.tcp(from: "dev1", "203.0.113.10", 443) }, true, ["10.128.0.11", "203.0.113.10", "tcp/443"], "rules[0]"),
            ("tcp 203.0.113.10:443 from dev2", { self.tcp(from: "dev2", "203.0.113.10", 443) }, true, ["10.129.3.7", "203.0.113.10", "tcp/443"], "rules[0]"),
            ("tcp 203.0.113.10:22", { self.tcp(from: "dev1", "203.0.113.10", 22) }, false, ["10.128.0.11", "203.0.113.10", "tcp/22"], "default"),
            ("tcp 203.0.113.53:443", { self.tcp(from: "dev1", "203.0.113.53", 443) }, false, ["10.128.0.11", "203.0.113.53", "tcp/443"], "rules[3]"),
            ("udp 198.51.100.20:123", { self.udp(from: "dev1", "198.51.100.20", 123) }, true, ["10.128.0.11", "198.51.100.20", "udp/123"], "rules[2]"),
            ("icmp 203.0.113.10", { self.ping(from: "dev1", "203.0.113.10") }, true, ["10.128.0.11", "203.0.113.10", "icmp"], "rules[1]"),
            ("icmp 203.0.113.53", { self.ping(from: "dev1", "203.0.113.53") }, false, ["10.128.0.11", "203.0.113.53", "icmp"], "rules[3]"),
            ("icmp 198.51.100.20", { self.ping(from: "dev1", "198.51.100.20") }, false, ["10.128.0.11", "198.51.100.20", "icmp"], "default"),
        ]
        for (what, run, reachable, checkArgs, decidedBy) in cases {
            let r = run()
            // UDP has no handshake: reachable means an answer came back.
            let reached = what.hasPrefix("udp") ? r.stdout.contains("peer=") : r.status == 0
            XCTAssertEqual(reached, reachable, "\(what): status \(r.status) \(r.stdout)\(r.stderr)")
            if reachable && !what.hasPrefix("icmp") {
                XCTAssertTrue(r.stdout.contains("peer=192.0.2.1"), "\(what) not NATed to the uplink address: \(r.stdout)")
            }
            // filter check, computed from the compiled policy, agrees with the wire.
            let check = inNode("peer", [gatepeerBinary, "filter", "check"] + checkArgs + ["-c", filterConfig])
            XCTAssertTrue(check.stdout.hasPrefix((reachable ? "allow: " : "deny: ") + "filter.outbound[0].\(decidedBy)"),
                          "\(what): filter check said \(check.stdout)")
        }

        let counts = try ruleCounts()
        XCTAssertGreaterThanOrEqual(counts["filter.outbound[0].rules[0]"] ?? 0, 2, "\(counts)")  // two TCP/443 connections
        XCTAssertGreaterThanOrEqual(counts["filter.outbound[0].rules[1]"] ?? 0, 1, "\(counts)")  // first ping to .10 (the rest are established)
        XCTAssertGreaterThanOrEqual(counts["filter.outbound[0].rules[2]"] ?? 0, 1, "\(counts)")  // NTP
        XCTAssertGreaterThanOrEqual(counts["filter.outbound[0].rules[3]"] ?? 0, 3, "\(counts)")  // tcp and icmp to .53
        XCTAssertGreaterThanOrEqual(counts["filter.outbound[0].default"] ?? 0, 3, "\(counts)")   // tcp/22, icmp to 198.51.100.20
        XCTAssertGreaterThanOrEqual(try verdictCount("out_deny"), 6)
        XCTAssertGreaterThanOrEqual(try verdictCount("out_allow"), 4)

        // The backends still reach the devices; a second plan is empty.
        XCTAssertEqual(ping(from: "backend", "10.128.0.11").status, 0)
        XCTAssertEqual(gatepeer("plan", "-c", filterConfig).stdout, "no changes\n")
    }

    func testInboundGuardDropsConnectionsFromOutsideTheBackends() throws {
        XCTAssertEqual(gatepeer("apply", "-c", plainConfig).status, 0)
        XCTAssertEqual(inNode("inet", ["ping", "-c", "3", "-i", "0.3", "-W", "2", "-I", "203.0.113.10", "10.128.0.11"]).status, 0,
                       "without the filter the internet reaches a device (the lab routes it)")
        XCTAssertEqual(gatepeer("apply", "-c", filterConfig).status, 0)
        XCTAssertNotEqual(inNode("inet", ["ping", "-c", "2", "-W", "2", "-I", "203.0.113.10", "10.128.0.11"]).status, 0)
        XCTAssertGreaterThanOrEqual(try verdictCount("in_drop"), 2)
        XCTAssertEqual(ping(from: "backend", "10.128.0.11").status, 0)
        XCTAssertGreaterThanOrEqual(try verdictCount("in_allow"), 1)
        let check = gatepeer("filter", "check", "203.0.113.10", "10.128.0.11", "icmp", "-c", filterConfig)
        XCTAssertTrue(check.stdout.hasPrefix("deny: inbound"), check.stdout)
    }

    func testMSSIsClampedOnTheWireInBothDirections() throws {
        XCTAssertEqual(gatepeer("apply", "-c", filterConfig).status, 0)
        background("dev1", ["socat", "TCP-LISTEN:8080,fork,reuseaddr", "SYSTEM:read -r _; echo hi"])
        waitForListener("dev1", "10.128.0.11", 8080)
        // Backend (MTU 1500, MSS 1460) -> device through gp0 (MTU 1450): 1410 arrives.
        let intoTunnel = capture(in: "dev1", filter: "tcp dst port 8080 and tcp[13] & 2 != 0") {
            _ = self.tcp(from: "backend", "10.128.0.11", 8080)
        }
        XCTAssertTrue(intoTunnel.contains("mss 1410"), "SYN into the tunnel:\n\(intoTunnel)")
        // Device (MSS 1460) -> internet: clamped on the way out of gp0 so replies fit back in.
        let outOfTunnel = capture(in: "inet", filter: "tcp dst port 443 and tcp[13] & 2 != 0") {
            _ = self.tcp(from: "dev1", "203.0.113.10", 443)
        }
        XCTAssertTrue(outOfTunnel.contains("mss 1410"), "SYN out of the tunnel:\n\(outOfTunnel)")
    }

    func testEstablishedFlowKeepsFlowingWhileThePolicyIsReapplied() throws {
        XCTAssertEqual(gatepeer("apply", "-c", filterConfig).status, 0)
        let sink = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-flow-\(prefix).txt")
        try? FileManager.default.removeItem(at: sink)
        defer { try? FileManager.default.removeItem(at: sink) }
        background("inet", ["socat", "-u", "TCP-LISTEN:5001,fork,reuseaddr", "OPEN:\(sink.path),creat,append"])
        // Allow 5001 first, then take it away while a connection is open.
        let allow = writeConfig(try policy(ports: [443, 993, 31314, 5001]))
        let deny = writeConfig(try policy(ports: [443, 993, 31314]))
        XCTAssertEqual(gatepeer("apply", "-c", allow).status, 0)
        waitForListener("inet", "203.0.113.10", 5001)
        let client = background("dev1", ["sh", "-c", "(echo one; sleep 5; echo two) | socat - TCP:203.0.113.10:5001"])
        func received() -> String { (try? String(contentsOf: sink, encoding: .utf8)) ?? "" }
        let open = Date().addingTimeInterval(10)
        while !received().contains("one") && Date() < open { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertTrue(received().contains("one"), "the flow never opened")
        let reapply = gatepeer("apply", "-c", deny)
        XCTAssertEqual(reapply.status, 0, reapply.stderr)
        XCTAssertTrue(reapply.stdout.contains("~ nftables table inet gatepeer"), reapply.stdout)
        XCTAssertFalse(received().contains("two"), "the re-apply must land while the flow is open")
        client.waitUntilExit()
        let got = (try? String(contentsOf: sink, encoding: .utf8)) ?? ""
        XCTAssertTrue(got.contains("one") && got.contains("two"), "the open flow lost data across the re-apply: \(got)")
        // A new connection to the port is refused by the new policy.
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 5001).status, 0)
    }

    /// A state directory for this test (removed afterwards), and gatepeer in the peer node
    /// with it and the filter config.
    func withState(_ tag: String) -> (state: URL, gp: (String...) -> Run) {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-state-\(prefix)-\(tag)")
        addTeardownBlock { try? FileManager.default.removeItem(at: state) }
        return (state, { args in
            self.inNode("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary] + args + ["-c", self.filterConfig])
        })
    }

    func testGrantOpensAHoleThatSurvivesReapplyAndExpires() throws {
        let (state, gp) = withState("grant")
        XCTAssertEqual(gp("apply").status, 0)
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "tcp/22 is denied by policy")

        let g = gp("filter", "grant", "--from", "10.128.0.11", "--to", "203.0.113.10", "--proto", "tcp", "--port", "22", "--for", "12s")
        XCTAssertEqual(g.status, 0, g.stderr)
        let opened = Date()
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "the grant opens tcp/22 at once")
        XCTAssertNotEqual(tcp(from: "dev2", "203.0.113.10", 22).status, 0, "only for the granted source")
        let listed = gp("filter", "grants").stdout
        XCTAssertTrue(listed.contains("10.128.0.11/32 -> 203.0.113.10/32 tcp 22  expires in"), listed)
        let mode = try FileManager.default.attributesOfItem(atPath: namespaceStateDirectory(base: state.path, namespace: node("peer")).appendingPathComponent("grants.json").path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        XCTAssertTrue(gp("filter", "check", "10.128.0.11", "203.0.113.10", "tcp/22").stdout.hasPrefix("allow: grant"))

        // A policy change reloads the table; the grant comes back with it.
        let changed = writeConfig(try policy(ports: [443, 993]))
        let reapply = inNode("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary, "apply", "-c", changed])
        XCTAssertTrue(reapply.stdout.contains("~ nftables table inet gatepeer"), reapply.stdout)
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "the grant survives the reload")

        // And it expires by itself: its deadline is the next whole second after the grant
        // plus 12 s, before opened + 13 s, and the kernel's timeout ends at that deadline.
        let wait = 13.3 - Date().timeIntervalSince(opened)
        if wait > 0 { Thread.sleep(forTimeInterval: wait) }
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "the grant expired")
        XCTAssertEqual(gp("filter", "grants").stdout, "no active grants\n")

        // Revoke closes a hole before its time.
        XCTAssertEqual(gp("filter", "grant", "--from", "10.128.0.0/16", "--to", "203.0.113.0/24", "--proto", "tcp", "--for", "1h").status, 0)
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0)
        let r = gp("filter", "revoke", "--from", "10.128.0.0/16", "--to", "203.0.113.0/24", "--proto", "tcp")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0)

        // A renewal extends the hole in the kernel too, not only in the state file.
        let args = ["filter", "grant", "--from", "10.128.0.11", "--to", "203.0.113.10", "--proto", "tcp", "--port", "22", "--for"]
        XCTAssertEqual(inNode("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary] + args + ["4s", "-c", filterConfig]).status, 0)
        let first = Date()
        Thread.sleep(forTimeInterval: 2)
        XCTAssertEqual(inNode("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary] + args + ["6s", "-c", filterConfig]).status, 0)
        Thread.sleep(forTimeInterval: max(0, 5 - Date().timeIntervalSince(first)))
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "renewed at 2 s for 6 s: still open at 5 s")
    }

    /// Grants go to the kernel as raw netlink elements; nft must read back exactly the
    /// keys it would have made from the same text (v4 and v6, prefixes, a protocol, a
    /// port range and a port list).
    func testGrantElementsAreTheKeysNftItselfMakes() throws {
        let (state, gp) = withState("raw")
        XCTAssertEqual(gp("apply").status, 0)
        let grants: [(args: [String], set: String, text: String)] = [
            (["--from", "10.128.0.0/16", "--to", "198.51.100.0/24"], "grants4a", "10.128.0.0/16 . 198.51.100.0/24"),
            (["--from", "10.128.0.11", "--to", "203.0.113.0/25", "--proto", "udp"], "grants4p", "10.128.0.11/32 . 203.0.113.0/25 . 17"),
            (["--from", "10.129.0.0/16", "--to", "203.0.113.10", "--proto", "tcp", "--port", "22,8000-8080"], "grants4",
             "10.129.0.0/16 . 203.0.113.10/32 . 6 . 22, 10.129.0.0/16 . 203.0.113.10/32 . 6 . 8000-8080"),
            (["--from", "fd00:10::/64", "--to", "2001:db8:1::/48", "--proto", "tcp", "--port", "443"], "grants6",
             "fd00:10::/64 . 2001:db8:1::/48 . 6 . 443"),
        ]
        for g in grants {
            let r = inNode("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary, "filter", "grant"] + g.args + ["--for", "1h", "-c", filterConfig])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        // The same sets in a scratch table, filled by nft from text.
        var text = "table inet gpcheck {\n"
        for fam in ["4", "6"] {
            let a = fam == "4" ? "ipv4_addr" : "ipv6_addr"
            for (suffix, type) in [("", "\(a) . \(a) . inet_proto . inet_service"), ("p", "\(a) . \(a) . inet_proto"), ("a", "\(a) . \(a)")] {
                text += "  set grants\(fam)\(suffix) { type \(type); flags interval,timeout; }\n"
            }
        }
        text += "}\n" + grants.map { "add element inet gpcheck \($0.set) { \($0.text) timeout 1h }\n" }.joined()
        let load = inNode("peer", ["nft", "-f", "-"], stdin: text)
        XCTAssertEqual(load.status, 0, load.stderr)
        defer { _ = inNode("peer", ["nft", "delete", "table", "inet", "gpcheck"]) }
        // Elements as nft prints them, without the running timers.
        func elements(_ table: String, _ set: String) -> String {
            let listed = inNode("peer", ["nft", "list", "set", "inet", table, set])
            XCTAssertEqual(listed.status, 0, "set \(set) of \(table) must exist: \(listed.stderr)")
            let out = listed.stdout
            guard let open = out.range(of: "elements = { ") else { return "" }
            let body = out[open.upperBound...].prefix { $0 != "}" }
            return body.replacingOccurrences(of: #"\s+(timeout|expires) [0-9dhms]+"#, with: "", options: .regularExpression)
                .split(whereSeparator: { $0 == "," || $0 == "\n" }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                .sorted().joined(separator: ", ")
        }
        for set in ["grants4a", "grants4p", "grants4", "grants6"] {
            let ours = elements("gatepeer", set), nfts = elements("gpcheck", set)
            XCTAssertFalse(ours.isEmpty, set)
            XCTAssertEqual(ours, nfts, set)
        }
        // The timeout the kernel holds is the grant's hour, to within the test's runtime.
        let listed = inNode("peer", ["nft", "list", "set", "inet", "gatepeer", "grants4a"]).stdout
        XCTAssertTrue(listed.contains("timeout 59m") || listed.contains("timeout 1h"), listed)
        // Revoking deletes exactly the granted keys.
        let r = gp("filter", "revoke", "--from", "10.129.0.0/16", "--to", "203.0.113.10", "--proto", "tcp", "--port", "22,8000-8080")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(elements("gatepeer", "grants4"), "")
        XCTAssertEqual(elements("gatepeer", "grants4a"), elements("gpcheck", "grants4a"))
    }

    /// lab-filter.json with rules[0]'s ports replaced.
    func policy(ports: [Int]) throws -> String {
        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: filterConfig))) as? [String: Any])
        var filter = doc["filter"] as! [String: Any]
        var groups = filter["outbound"] as! [[String: Any]]
        var rules = groups[0]["rules"] as! [[String: Any]]
        rules[0]["ports"] = ports
        groups[0]["rules"] = rules
        filter["outbound"] = groups
        doc["filter"] = filter
        return String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self)
    }

    /// Round 2: a /8's port rules inherited by many nested hosts were copied into every
    /// host's bundle (a /8 with 2,000 ports and 5,000 hosts: 219 MB of nft text). The
    /// kernel now holds the /8's port map once, every bundle looks it up, and the wire
    /// still follows the policy through it.
    func testAnInheritedPortMapIsLoadedOnceAndDecidesForEveryNestedHost() throws {
        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: filterConfig))) as? [String: Any])
        var filter = doc["filter"] as! [String: Any]
        var groups = filter["outbound"] as! [[String: Any]]
        var rules = groups[0]["rules"] as! [[String: Any]]
        // rules[4]: tcp 22 and 2,000 odd ports anywhere in 203.0.0.0/8 (not 31314).
        rules.append(["action": "allow", "destination": "203.0.0.0/8", "protocol": "tcp", "ports": [22] + Array(stride(from: 1, through: 3999, by: 2))])
        // 1,000 hosts with their own ICMP rule inside it: 1,000 bundles inheriting it.
        for k in 0..<1000 { rules.append(["action": "allow", "destination": "203.1.\(k / 256).\(k % 256)/32", "protocol": "icmp"]) }
        groups[0]["rules"] = rules
        filter["outbound"] = groups
        doc["filter"] = filter
        let config = writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))

        let r = gatepeer("apply", "-c", config)
        XCTAssertEqual(r.status, 0, r.stderr)
        // Read back: one map holds the /8's port elements (1,999: 21, 22 and 23 are one
        // range), and there are no copies of them.
        let table = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(inNode("peer", ["nft", "-j", "list", "table", "inet", "gatepeer"]).stdout.utf8)) as? [String: Any])
        let objects = try XCTUnwrap(table["nftables"] as? [[String: Any]])
        let portMaps = objects.compactMap { $0["map"] as? [String: Any] }.filter { ($0["type"] as? [String]) == ["inet_proto", "inet_service"] }
        let sizes = portMaps.map { ($0["elem"] as? [Any])?.count ?? 0 }
        XCTAssertEqual(sizes.filter { $0 >= 1999 }.count, 1, "the /8's port map once: \(sizes.count) port maps, sizes \(sizes.sorted().suffix(5))")
        XCTAssertLessThan(sizes.reduce(0, +), 1999 + 10, "port elements in the kernel")
        let bundles = objects.compactMap { $0["chain"] as? [String: Any] }.filter { ($0["name"] as? String)?.hasPrefix("g0_b") == true }
        XCTAssertGreaterThan(bundles.count, 1000, "each host keeps its bundle chain")

        // The wire: 203.0.113.10's bundle holds three levels (/32 ports, /24 ICMP, /8 ports).
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "tcp/22 is allowed by the /8 through the shared map")
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 31314).status, 0, "the /32's own port")
        XCTAssertEqual(ping(from: "dev1", "203.0.113.10").status, 0, "the /24's ICMP")
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.53", 22).status, 0, "the /32 any-protocol deny still wins")
        let check = inNode("peer", [gatepeerBinary, "filter", "check", "10.128.0.11", "203.0.113.10", "tcp/22", "-c", config])
        XCTAssertTrue(check.stdout.hasPrefix("allow: filter.outbound[0].rules[4]"), check.stdout)
        let status = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(gatepeer("status", "--json", "-c", config).stdout.utf8)) as? [String: Any])
        let counted = ((status["filter"] as? [String: Any])?["rules"] as? [[String: Any]])?.first { $0["path"] as? String == "filter.outbound[0].rules[4]" }
        XCTAssertGreaterThanOrEqual(counted?["packets"] as? Int ?? 0, 1, "counted on the /8's rule")
        XCTAssertEqual(gatepeer("plan", "-c", config).stdout, "no changes\n", "the loaded content is what the plan expects")
    }

    /// A policy large enough to go through raw element loads: a changed rule is an
    /// element delta (unchanged elements keep their counters), a damaged map cache or an
    /// element removed by hand falls back to a full load, and the staging table never
    /// outlives a load.
    func testLargePolicyChangesAsElementDeltasAndRecoversFromStaleCache() throws {
        func config(moved: Int?) throws -> String {
            var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: filterConfig))) as? [String: Any])
            var filter = doc["filter"] as! [String: Any]
            var groups = filter["outbound"] as! [[String: Any]]
            var rules = groups[0]["rules"] as! [[String: Any]]
            for k in 0..<3000 {
                let dest = k == moved ? "30.0.0.0/24" : "20.\(k / 256).\(k % 256).0/24"
                rules.append(["action": "deny", "destination": dest])
            }
            groups[0]["rules"] = rules
            groups[0]["default"] = "allow"  // so a prefix that loses its rule reads as allowed
            filter["outbound"] = groups
            doc["filter"] = filter
            return writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
        }
        // 3,000 intervals are more than one shard holds: g0_dst4 picks the shard map.
        func shard(_ address: String) -> String {
            let out = inNode("peer", ["nft", "get", "element", "inet", "gatepeer", "g0_dst4", "{ \(address) }"]).stdout
            guard let r = out.range(of: "goto ") else { return "g0_dst4" }
            return String(out[r.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" })
        }
        func has(_ address: String) -> Bool {
            inNode("peer", ["nft", "get", "element", "inet", "gatepeer", shard(address), "{ \(address) }"]).stdout.contains(": continue")
        }
        func denied53() throws -> Int { try ruleCounts()["filter.outbound[0].rules[3]"] ?? -1 }
        let base = try config(moved: nil), moved5 = try config(moved: 5), moved6 = try config(moved: 6)
        let cache = namespaceStateDirectory(base: ProcessInfo.processInfo.environment["GATEPEER_STATE_DIR"]!, namespace: node("peer")).appendingPathComponent("filter-maps.bin")

        var r = gatepeer("apply", "-c", base)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(has("20.0.5.1") && !has("30.0.0.1"))
        XCTAssertTrue(shard("20.0.5.1").hasPrefix("g0_d4_"), shard("20.0.5.1"))
        XCTAssertNotEqual(shard("20.0.5.1"), shard("30.0.0.1"), "the moved rule changes two shards")
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.53", 443).status, 0)
        XCTAssertGreaterThan(try denied53(), 0)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: cache.path)[.posixPermissions] as? Int, 0o600)

        // One rule changed: a delta. The element counting rules[3] was not touched.
        let before = try denied53()
        r = gatepeer("apply", "-c", moved5)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(has("30.0.0.1") && !has("20.0.5.1") && has("20.0.6.1"))
        XCTAssertEqual(try denied53(), before, "unchanged elements keep their counters")
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 443).status, 0, "allowed traffic still flows")
        XCTAssertFalse(inNode("peer", ["nft", "list", "tables"]).stdout.contains("gatepeer_stage"))

        // A damaged cache: a full load (counters start again), and the right elements.
        try Data("not a cache".utf8).write(to: cache)
        r = gatepeer("apply", "-c", base)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(has("20.0.5.1") && !has("30.0.0.1"))
        XCTAssertEqual(try denied53(), 0, "a full load starts the counters again")

        // An element the delta would delete, removed by hand: the delta is refused as a
        // whole and a full load converges.
        XCTAssertEqual(inNode("peer", ["nft", "delete", "element", "inet", "gatepeer", shard("20.0.6.1"), "{ 20.0.6.0/24 }"]).status, 0)
        r = gatepeer("apply", "-c", moved6)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(has("30.0.0.1") && !has("20.0.6.1") && has("20.0.5.1"))
        XCTAssertEqual(gatepeer("plan", "-c", moved6).stdout.trimmingCharacters(in: .whitespacesAndNewlines), "no changes")
        XCTAssertFalse(inNode("peer", ["nft", "list", "tables"]).stdout.contains("gatepeer_stage"))
    }

}
