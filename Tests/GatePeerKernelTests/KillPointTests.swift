import Foundation
import XCTest

/// Issue 9 item 5, tested the way it was found: gatepeer is killed (SIGKILL, injected by
/// strace) at its N-th netlink request, for every N of a cold `apply` and of a `down`;
/// after each kill the next `apply` must converge and `plan` must be empty. Our netlink
/// code sends every request, dump and nf_tables transaction with sendto(2)
/// (NetlinkSocket.sendChunk); libnftables (the staging table, listings) sends with sendmsg.
final class KillPointTests: KernelTestCase {
    /// Two links, peers, routes and a small filter: every kind of object apply makes.
    let configText = """
    {"forwarding": true, "links": [
     {"name": "gp0", "vxlanId": 10, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.255.255.254/9",
      "peers": [{"outerIpAddress": "100.64.152.4"}, {"outerIpAddress": "100.64.152.132"}],
      "routes": [{"destination": "192.168.10.0/24", "via": "10.129.3.7"}]},
     {"name": "gp1", "vxlanId": 20, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.64.0.1/16",
      "peers": [{"outerIpAddress": "100.64.200.4"}],
      "routes": [{"destination": "192.168.20.0/24", "via": "10.64.3.3"}, {"destination": "192.168.21.0/24", "via": "10.64.3.4"}]}],
     "filter": {"nat": "none", "backendPrefixes": ["172.31.0.0/24"], "outbound": [{"name": "fleet", "default": "deny",
       "rules": [{"action": "allow", "destination": "203.0.113.10/32", "protocol": "tcp", "ports": [443]}]}]}}
    """

    /// Runs `gatepeer ARGS` under strace, killed at the `n`-th call of `syscall`. Returns
    /// false when the run finished before that call (no such kill point).
    func killed(_ ns: Namespace, at n: Int, of syscall: String, _ args: [String]) -> Bool {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-kill-\(UUID().uuidString).trace")
        defer { try? FileManager.default.removeItem(at: trace) }
        let r = ns.exec(["strace", "-f", "-o", trace.path, "-e", "trace=\(syscall)",
                         "-e", "inject=\(syscall):signal=KILL:when=\(n)", gatepeerBinary] + args)
        let text = (try? String(contentsOf: trace, encoding: .utf8)) ?? ""
        if text.contains("+++ killed by SIGKILL") { return true }
        XCTAssertEqual(r.status, 0, "\(args) under strace without a kill: \(r.stderr)")
        return false
    }

    /// After a kill: apply converges (exit 0) and the plan that follows is empty.
    func assertConverges(_ ns: Namespace, _ cfg: String, _ what: String) {
        let a = ns.gatepeer("apply", "-c", cfg)
        XCTAssertEqual(a.status, 0, "\(what): apply after the kill: \(a.stdout)\n\(a.stderr)")
        let p = ns.gatepeer("plan", "-c", cfg)
        XCTAssertEqual(p.status, 0, "\(what): plan: \(p.stderr)")
        XCTAssertEqual(p.stdout, "no changes\n", "\(what): plan: \(p.stderr)")
    }

    func testApplyKilledAtEveryRequestConvergesOnTheNextRun() throws {
        let ns = try makePeerNamespace()
        let cfg = writeConfig(configText)
        for syscall in ["sendto", "sendmsg"] {
            var n = 1
            while killed(ns, at: n, of: syscall, ["apply", "-c", cfg]) {
                // No window (round 2): a link exists only once table inet gatepeer (the
                // outbound filter and the VXLAN guard) is loaded, whatever the kill point.
                for dev in ["gp0", "gp1"] where ns.link(dev) != nil {
                    XCTAssertTrue(ns.exec(["nft", "list", "tables"]).stdout.contains("table inet gatepeer\n"),
                                  "apply killed at \(syscall) #\(n): \(dev) exists (\(ns.link(dev)?["flags"] ?? "")) without table inet gatepeer")
                }
                assertConverges(ns, cfg, "apply killed at \(syscall) #\(n)")
                // Cold again for the next kill point: down leaves nothing of ours.
                let d = ns.gatepeer("down")
                XCTAssertEqual(d.status, 0, d.stderr)
                XCTAssertNil(ns.link("gp0"))
                n += 1
                if n > 200 { return XCTFail("more than 200 \(syscall) calls in one apply") }
            }
            // sendto carries every rtnetlink request and dump; libnftables' batch is sendmsg.
            XCTAssertGreaterThan(n, syscall == "sendto" ? 20 : 1, "kill points of \(syscall)")
            let d = ns.gatepeer("down")
            XCTAssertEqual(d.status, 0, d.stderr)
        }
    }

    func testDownKilledAtEveryRequestConvergesOnTheNextRun() throws {
        let ns = try makePeerNamespace()
        let cfg = writeConfig(configText)
        XCTAssertEqual(ns.gatepeer("apply", "-c", cfg).status, 0)
        var n = 1
        while killed(ns, at: n, of: "sendto", ["down"]) {
            // The next down finishes the job; then apply and plan converge as from cold.
            let d = ns.gatepeer("down")
            XCTAssertEqual(d.status, 0, "down after down killed at sendto #\(n): \(d.stderr)")
            XCTAssertNil(ns.link("gp0"), "down killed at sendto #\(n)")
            XCTAssertEqual(ns.gatepeer("plan", "-c", cfg).status, 0)
            assertConverges(ns, cfg, "down killed at sendto #\(n)")
            n += 1
            if n > 200 { return XCTFail("more than 200 sendto calls in one down") }
        }
        XCTAssertGreaterThan(n, 5, "kill points of down")
    }
}
