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

    /// The example: with 100,000 rules each full reload denied 2-4 of the new
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

        var reloads = 0, denied: [Int] = []
        for k in 0..<6 {
            r = gatepeer("apply", "-c", k % 2 == 0 ? b : a)
            XCTAssertEqual(r.status, 0, r.stderr)
            if r.stdout.contains("~ nftables table inet gatepeer") { reloads += 1 }
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
