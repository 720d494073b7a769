import Foundation
import XCTest

/// Issue 10 item 10: a full reload of a large policy must not deny allowed new flows.
/// (An extension: the lab's servers are FilterLabTests' own.)
extension FilterLabTests {
    /// The lab policy with 100,000 deny prefixes added (20.0.0.0/24 upwards, away from
    /// the lab's addresses) and rules[0] allowing 203.0.113.10 on `ports`: a port list
    /// is a bundle map, so two port lists differ in the skeleton and each apply that
    /// switches between them is a full load, never an element delta.
    func largePolicy(ports: [Int], prefixes: Int = 100_000) throws -> String {
        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: filterConfig))) as? [String: Any])
        var filter = doc["filter"] as! [String: Any]
        var groups = filter["outbound"] as! [[String: Any]]
        var rules = groups[0]["rules"] as! [[String: Any]]
        rules[0]["ports"] = ports
        for k in 0..<prefixes {
            rules.append(["action": "deny", "destination": "\(20 + k / 65536).\(k / 256 % 256).\(k % 256).0/24"])
        }
        groups[0]["rules"] = rules
        filter["outbound"] = groups
        doc["filter"] = filter
        return writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
    }

    /// TcpExt TCPSynRetrans of a lab node's namespace: SYNs sent again because no
    /// SYN/ACK came back, i.e. connection attempts the path dropped.
    func synRetransmits(_ n: String) throws -> Int {
        let lines = inNode(n, ["cat", "/proc/net/netstat"]).stdout.split(separator: "\n").filter { $0.hasPrefix("TcpExt:") }
        XCTAssertEqual(lines.count, 2)
        let names = lines[0].split(separator: " "), values = lines[1].split(separator: " ")
        let i = try XCTUnwrap(names.firstIndex(of: "TCPSynRetrans"))
        return Int(values[i]) ?? -1
    }

    /// The packets counted by a named counter of table inet gatepeer (nft -j).
    func tableCounter(_ name: String) throws -> Int {
        let r = inNode("peer", ["nft", "-j", "list", "counter", "inet", "gatepeer", name])
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stderr)
        let items = try XCTUnwrap(doc["nftables"] as? [[String: Any]])
        let counter = try XCTUnwrap(items.compactMap { $0["counter"] as? [String: Any] }.first)
        return try XCTUnwrap(counter["packets"] as? Int)
    }

    /// The handle of table inet gatepeer: a full load creates the table anew (a new
    /// handle), a delta keeps it.
    func tableHandle() throws -> Int {
        let r = inNode("peer", ["nft", "-j", "list", "tables"])
        let items = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["nftables"] as? [[String: Any]], r.stderr)
        let t = try XCTUnwrap(items.compactMap { $0["table"] as? [String: Any] }.first { $0["name"] as? String == "gatepeer" }, r.stdout)
        return try XCTUnwrap(t["handle"] as? Int)
    }

    /// The issue's example: with 100,000 rules each full reload denied 2-4 of the new
    /// allowed flows a client opened every 10 ms. A client in dev1 opens a TCP connection
    /// to 203.0.113.10:443 (allowed by rules[0] in both policies) every 10 ms while the
    /// table is reloaded in full six times. No attempt may be dropped: the kernel counts
    /// none in the new table's deny counter after any reload, and dev1's kernel sent no
    /// SYN twice (a dropped SYN is sent again) and every connection was established.
    func testFullReloadsOfALargePolicyDenyNoAllowedFlow() throws {
        let a = try largePolicy(ports: [443, 993, 31314]), b = try largePolicy(ports: [443, 993])
        var r = gatepeer("apply", "-c", a)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 443).status, 0, "rules[0] allows tcp/443")
        let retransBefore = try synRetransmits("dev1")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-flows-\(prefix)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let stop = dir.appendingPathComponent("stop").path, log = dir.appendingPathComponent("flows.txt")
        // One new connection every 10 ms, each in its own subshell, until told to stop.
        let client = "n=0; while [ ! -e \(stop) ]; do (exec 3<>/dev/tcp/203.0.113.10/443 && echo ok || echo fail) & n=$((n+1)); sleep 0.01; done; wait; echo sent $n"
        let flows = background("dev1", ["bash", "-c", client], log: log)

        var reloads = 0, denied: [Int] = [], handle = try tableHandle()
        for k in 0..<6 {
            r = gatepeer("apply", "-c", k % 2 == 0 ? b : a)
            XCTAssertEqual(r.status, 0, r.stderr)
            let h = try tableHandle()
            if h != handle { reloads += 1 }
            handle = h
            denied.append(try tableCounter("out_deny"))
        }
        FileManager.default.createFile(atPath: stop, contents: nil)
        flows.waitUntilExit()
        let out = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let sent = Int(out.split(separator: "\n").last { $0.hasPrefix("sent ") }?.dropFirst(5) ?? "") ?? 0
        let ok = out.split(separator: "\n").filter { $0 == "ok" }.count
        let retransmits = try synRetransmits("dev1") - retransBefore

        XCTAssertEqual(reloads, 6, "every apply is a full load")
        XCTAssertGreaterThan(sent, 100, "the client ran through the reloads")
        XCTAssertEqual(denied, Array(repeating: 0, count: 6), "allowed flows counted in the new table's out_deny, per reload (\(sent) flows)")
        XCTAssertEqual(retransmits, 0, "SYNs dropped and sent again during the reloads (\(sent) flows)")
        XCTAssertEqual(ok, sent, "connections established of \(sent)")
    }
}

extension FilterLabTests {
    /// A dormant table holds every rule and runs none: `nft add table inet gatepeer
    /// '{ flags dormant; }'` opened everything while plan said "no changes" (the content
    /// digest does not cover table flags). A swap stopped half way leaves the table
    /// dormant too. Seen by plan and status, repaired by apply.
    func testDormantTableIsSeenAndWoken() throws {
        applied()
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "tcp/22 is denied by policy")
        XCTAssertEqual(nft("add", "table", "inet", "gatepeer", "{ flags dormant; }").status, 0)
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "a dormant table lets the denied destination through")

        let p = plan()
        XCTAssertTrue(p.stdout.contains("~ nftables table inet gatepeer: content differs from what gatepeer loaded (table dormant"), p.stdout)
        XCTAssertEqual((try statusJSON()["filter"] as? [String: Any])?["inSync"] as? Bool, false)
        applied()
        XCTAssertFalse(nft("list", "tables").stdout.contains("gatepeer_stage"))
        XCTAssertFalse(nft("list", "table", "inet", "gatepeer").stdout.contains("flags dormant"))
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "denied again after the repair")
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 443).status, 0, "allowed traffic flows")
        noChanges()
    }

    /// The state a swap leaves when stopped after its second transaction: the staging
    /// table enforces (awake), table inet gatepeer holds the new policy but sleeps. The
    /// denied destination stays denied throughout, and apply ends with the live table
    /// awake and no staging table, without a moment of neither.
    func testSwapStoppedHalfWayFailsClosedAndIsFinished() throws {
        applied()
        let text = nft("list", "table", "inet", "gatepeer").stdout
        let stageText = text.replacingOccurrences(of: "table inet gatepeer {", with: "table inet gatepeer_stage {")
        XCTAssertEqual(inNode("peer", ["nft", "-f", "-"], stdin: stageText).status, 0)
        XCTAssertEqual(nft("add", "table", "inet", "gatepeer", "{ flags dormant; }").status, 0)
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0, "the staging table enforces")

        let p = plan()
        XCTAssertTrue(p.stdout.contains("- nftables table inet gatepeer_stage"), p.stdout)
        XCTAssertTrue(p.stdout.contains("(table dormant"), p.stdout)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-probe-\(prefix)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("ping.txt")
        let probe = background("dev1", ["ping", "-n", "-i", "0.005", "-W", "1", "-w", "3", "203.0.113.53"], log: log)
        applied()
        probe.waitUntilExit()
        let summary = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").first { $0.contains("packets transmitted") } ?? ""
        XCTAssertTrue(summary.contains(" 0 received"), "a denied destination answered while the swap was finished: \(summary)")
        XCTAssertFalse(nft("list", "tables").stdout.contains("gatepeer_stage"))
        XCTAssertFalse(nft("list", "table", "inet", "gatepeer").stdout.contains("flags dormant"))
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0)
        XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 443).status, 0)
        noChanges()
    }
}

extension KillPointTests {
    /// Whether an awake table inet gatepeer or gatepeer_stage has rules in its forward
    /// chain: some table of ours filters.
    func filtering(_ ns: Namespace) -> Bool {
        ["gatepeer", "gatepeer_stage"].contains { t in
            let r = ns.exec(["nft", "list", "table", "inet", t])
            return r.status == 0 && !r.stdout.contains("flags dormant") && ns.exec(["nft", "list", "chain", "inet", t, "forward"]).stdout.contains("goto")
        }
    }

    /// A full reload (the swap through the staging table) killed at each of its requests:
    /// after every kill some table of ours still filters, and the next apply converges.
    func testReloadKilledAtEveryRequestNeverLeavesTheFilterOff() throws {
        let ns = try makePeerNamespace()
        let a = writeConfig(configText)
        let b = writeConfig(configText.replacingOccurrences(of: "\"ports\": [443]", with: "\"ports\": [443, 993]"))
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(ns.gatepeer("apply", "-c", a).status, 0)
        var points = 0
        for syscall in ["sendto", "sendmsg"] {
            var n = 1
            while killed(ns, at: n, of: syscall, ["apply", "-c", b]) {
                XCTAssertTrue(filtering(ns), "reload killed at \(syscall) #\(n): no table of ours filters\n\(ns.exec(["nft", "list", "tables"]).stdout)")
                assertConverges(ns, b, "reload killed at \(syscall) #\(n)")
                // Back to the first policy: the next kill interrupts a full reload again.
                XCTAssertEqual(ns.gatepeer("apply", "-c", a).status, 0)
                n += 1
                points += 1
            }
        }
        XCTAssertGreaterThan(points, 4, "the swap's transactions were among the kill points")
    }
}
