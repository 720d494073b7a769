import Foundation
import Glibc
import XCTest

/// `gatepeer health` as keepalived's track script drives a real failover (issue 13 item 4):
/// both nodes started the real way (`scripts/lab ha up NODE BIN 1000`: gatepeer with the
/// node's config, keepalived with what `gatepeer ha render` wrote; track script
/// `gatepeer health`, interval 1 s, fall 2, rise 2; nopreempt). Who is master is read from
/// the kernel (which node holds 172.31.0.254 and 172.31.0.253 on eth0) and why from
/// keepalived's own log (keepalived.log in `scripts/lab ha dir NODE`).
///
/// What keepalived notices itself: the rendered gatepeer_link_gp0 instance puts the inner
/// address on gp0, and keepalived tracks the device of a virtual address, so a deleted gp0
/// faults the master at once ("Netlink reports gp0 down"), before the health script has
/// failed twice, and whether gatepeer repairs gp0 or not.
final class HAHealthTests: HALabTestCase {
    override class var prefixStem: String { "ghc" }

    static let outerVIP = "172.31.0.254"
    static let backendVIP = "172.31.0.253"

    /// The node's rendered-config gatepeer.json (written by `ha up`).
    func healthConfig(_ n: String) -> String { "/run/gatepeer-lab/\(prefix)/\(n)/gatepeer.json" }

    /// `gatepeer health -c CFG` in the node, with the node's state directory.
    func health(_ n: String) -> Run {
        inNode(n, ["env", "GATEPEER_STATE_DIR=/run/gatepeer-lab/\(prefix)/\(n)/gatepeer.state",
                   gatepeerBinary, "health", "-c", healthConfig(n)])
    }

    /// The IPv4 addresses on the node's eth0, from the kernel.
    func eth0Addresses(_ n: String) -> Set<String> {
        let text = inNode(n, ["ip", "-j", "-4", "addr", "show", "dev", "eth0"]).stdout
        let doc = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]]
        let infos = (doc?.first?["addr_info"] as? [[String: Any]]) ?? []
        return Set(infos.compactMap { $0["local"] as? String })
    }

    /// True when the node holds both virtual addresses (the outer one and the backend's).
    func holdsVIPs(_ n: String) -> Bool { eth0Addresses(n).isSuperset(of: [Self.outerVIP, Self.backendVIP]) }
    /// True when the node holds either of them.
    func holdsAnyVIP(_ n: String) -> Bool { !eth0Addresses(n).isDisjoint(with: [Self.outerVIP, Self.backendVIP]) }

    func hasGP0(_ n: String) -> Bool { inNode(n, ["ip", "link", "show", "gp0"]).status == 0 }

    /// True when the node's gp0 holds the inner virtual address (keepalived's, on the master).
    func gp0HoldsInnerVIP(_ n: String) -> Bool {
        inNode(n, ["ip", "-4", "-br", "addr", "show", "dev", "gp0"]).stdout.contains("10.255.255.254/9")
    }

    /// The log lines after the first `from` (a count taken before the action).
    func logSince(_ n: String, _ from: Int) -> [String] { Array(keepalivedLog(n).dropFirst(from)) }

    /// The index of the first line after `from` containing `text` (nil: none).
    func firstLine(_ n: String, _ text: String, since from: Int) -> Int? {
        logSince(n, from).firstIndex { $0.contains(text) }
    }

    /// peera with the rendered config until it holds both virtual addresses and judges its
    /// peers up, then peerb until its keepalived is BACKUP; the backend reaches dev1.
    func startRenderedPair(env: [String] = []) {
        let a = ha("up", "peera", gatepeerBinary, "1000", env: env)
        XCTAssertEqual(a.status, 0, "ha up peera: \(a.stderr)")
        XCTAssertTrue(eventually(15) { self.holdsVIPs("peera") }, "peera never took the addresses: \(eth0Addresses("peera"))")
        let b = ha("up", "peerb", gatepeerBinary, "1000", env: env)
        XCTAssertEqual(b.status, 0, "ha up peerb: \(b.stderr)")
        XCTAssertTrue(eventually(15) { self.firstLine("peerb", "(gatepeer_link_gp0) Entering BACKUP STATE", since: 0) != nil },
                      "peerb never became BACKUP:\n\(keepalivedLog("peerb").suffix(10).joined(separator: "\n"))")
        XCTAssertTrue(holdsVIPs("peera") && !holdsAnyVIP("peerb"), "peera master, peerb not: \(eth0Addresses("peera")) / \(eth0Addresses("peerb"))")
        XCTAssertTrue(eventually(15) { self.health("peera").stdout.contains("2/2 peers up") }, "peera judges both VPG peers up: \(health("peera"))")
        XCTAssertTrue(eventually(10) { self.ping(from: "backend", "10.128.0.11").status == 0 }, "backend -> dev1 through peera")
    }

    /// For `seconds`, both nodes' eth0 are read back every ~20 ms: peerb holds the
    /// addresses and peera none of them, each time (never two masters, no move back).
    func assertPeerbStaysSoleMaster(for seconds: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Date().addingTimeInterval(seconds)
        var samples = 0
        while Date() < deadline {
            let a = eth0Addresses("peera"), b = eth0Addresses("peerb")
            samples += 1
            guard b.isSuperset(of: [Self.outerVIP, Self.backendVIP]), a.isDisjoint(with: [Self.outerVIP, Self.backendVIP]) else {
                XCTFail("\(what): sample \(samples): peera \(a.sorted()), peerb \(b.sorted())", file: file, line: line)
                return
            }
            usleep(20_000)
        }
    }

    /// Test 1: the master's gp0 deleted by hand while its gatepeer is frozen (SIGSTOP; a
    /// running one repairs gp0 in milliseconds). Health goes non-zero naming gp0, keepalived
    /// on peera goes FAULT, the addresses move to peerb and the backend reaches dev1
    /// through it. On SIGCONT gatepeer recreates gp0, health is 0 again and peera comes
    /// back as BACKUP (nopreempt) while peerb stays the only master.
    func testTunnelDeletedByHandFailsHealthAndMovesTheAddresses() throws {
        startRenderedPair()
        let frozen = pids("peera", "gatepeer")
        XCTAssertEqual(frozen.count, 1, "peera's gatepeer pid")
        addTeardownBlock { for p in frozen { kill(p, SIGCONT) } }
        for p in frozen { kill(p, SIGSTOP) }

        let mark = keepalivedLog("peera").count
        let deleted = Date().timeIntervalSince1970
        let del = inNode("peera", ["ip", "link", "del", "gp0"])
        XCTAssertEqual(del.status, 0, del.stderr)

        var verdict = health("peera")
        XCTAssertNotEqual(verdict.status, 0, "health with gp0 gone: \(verdict.stdout)")
        XCTAssertTrue(verdict.stderr.hasPrefix("not healthy: link gp0 does not exist"), "health names the problem: \(verdict.stderr)")
        XCTAssertTrue(eventually(10) { self.holdsVIPs("peerb") }, "the addresses moved to peerb: \(eth0Addresses("peerb"))")
        let moved = Date().timeIntervalSince1970
        XCTAssertFalse(holdsAnyVIP("peera"), "peera gave them up: \(eth0Addresses("peera"))")
        XCTAssertTrue(eventually(10) { self.ping(from: "backend", "10.128.0.11").status == 0 }, "backend -> dev1 through peerb")
        XCTAssertTrue(eventually(5) { self.firstLine("peera", "VRRP_Script(gatepeer_health) failed", since: mark) != nil },
                      "the health script failed (fall 2) while gp0 was gone:\n\(logSince("peera", mark).joined(separator: "\n"))")

        // Which came first: keepalived's own tracking of gp0, or the health script.
        let fault = firstLine("peera", "(gatepeer_link_gp0) Entering FAULT STATE", since: mark)
        let netlink = firstLine("peera", "Netlink reports gp0 down", since: mark)
        let scriptFailed = firstLine("peera", "VRRP_Script(gatepeer_health) failed", since: mark)
        XCTAssertNotNil(fault, "keepalived on peera went FAULT:\n\(logSince("peera", mark).joined(separator: "\n"))")
        print("HA health, gp0 deleted by hand (gatepeer frozen): addresses on peerb \(String(format: "%.2f", moved - deleted)) s after the delete; "
              + "peera's keepalived.log after the delete, in order: netlink gp0 down at line \(netlink.map(String.init) ?? "-"), "
              + "FAULT at line \(fault.map(String.init) ?? "-"), health script failed at line \(scriptFailed.map(String.init) ?? "-"); health said: \(verdict.stderr)")

        // Thawed: gatepeer recreates gp0, health is 0 again, peera is BACKUP, peerb the only master.
        let thawMark = keepalivedLog("peera").count
        for p in frozen { kill(p, SIGCONT) }
        XCTAssertTrue(eventually(5) { self.hasGP0("peera") }, "gatepeer recreated gp0 on peera")
        XCTAssertTrue(eventually(10) { verdict = self.health("peera"); return verdict.status == 0 }, "health 0 again: \(verdict.stderr)")
        XCTAssertTrue(verdict.stdout.contains("standby"), "peera judges itself standby: \(verdict.stdout)")
        XCTAssertTrue(eventually(10) { self.firstLine("peera", "(gatepeer_link_gp0) Entering BACKUP STATE", since: thawMark) != nil },
                      "peera back as BACKUP:\n\(logSince("peera", thawMark).joined(separator: "\n"))")
        assertPeerbStaysSoleMaster(for: 3, "after peera came back")
        XCTAssertTrue(gp0HoldsInnerVIP("peerb") && !gp0HoldsInnerVIP("peera"), "the inner address on peerb's gp0 only")
        XCTAssertNil(firstLine("peera", "Entering MASTER STATE", since: thawMark), "peera never master again (nopreempt)")
        XCTAssertEqual(ping(from: "backend", "10.128.0.11").status, 0, "backend -> dev1 through peerb after peera came back")
    }

    /// Test 2, the control: gp0 deleted on the master while its gatepeer runs. gatepeer
    /// repairs it in milliseconds and the health script never fails (fall 2 covers the
    /// repair). keepalived itself still faults the instance whose virtual address was on
    /// gp0 (it tracks that device) and peerb takes over: deleting the master's gp0 always
    /// moves the addresses, whatever health says. Then peera is BACKUP again with gp0 back.
    func testTunnelDeletedWhileGatepeerRunsIsRepairedAndHealthNeverFails() throws {
        startRenderedPair()
        let mark = keepalivedLog("peera").count
        let deleted = Date().timeIntervalSince1970
        let del = inNode("peera", ["ip", "link", "del", "gp0"])
        XCTAssertEqual(del.status, 0, del.stderr)
        // peerb's eth0 every ~20 ms until it holds the addresses (5 s at most).
        var movedAt: Double?
        while movedAt == nil, Date().timeIntervalSince1970 < deleted + 5 {
            if holdsVIPs("peerb") { movedAt = Date().timeIntervalSince1970 } else { usleep(20_000) }
        }
        XCTAssertTrue(eventually(2) { self.hasGP0("peera") }, "gatepeer repaired gp0 on peera")
        var verdict = health("peera")
        XCTAssertTrue(eventually(5) { verdict = self.health("peera"); return verdict.status == 0 }, "health 0 after the repair: \(verdict.stderr)")
        // Three health intervals: a failure would be logged by now.
        let watchedUntil = Date().addingTimeInterval(3)
        var scriptFailed: Int?
        while Date() < watchedUntil, scriptFailed == nil {
            scriptFailed = firstLine("peera", "VRRP_Script(gatepeer_health) failed", since: mark)
            usleep(200_000)
        }
        XCTAssertNil(scriptFailed, "the health script failed although gatepeer repaired gp0:\n\(logSince("peera", mark).joined(separator: "\n"))")
        // keepalived's own reaction: FAULT from netlink, the addresses on peerb.
        let netlink = firstLine("peera", "Netlink reports gp0 down", since: mark)
        let fault = firstLine("peera", "(gatepeer_link_gp0) Entering FAULT STATE", since: mark)
        XCTAssertNotNil(netlink, "keepalived saw gp0 go")
        XCTAssertNotNil(fault, "keepalived faulted on its own (it tracks gp0, the device of a virtual address):\n\(logSince("peera", mark).joined(separator: "\n"))")
        XCTAssertTrue(eventually(10) { self.holdsVIPs("peerb") }, "peera faulted, so peerb holds the addresses: \(eth0Addresses("peerb"))")
        print("HA health, gp0 deleted with gatepeer running: addresses on peerb \(movedAt.map { String(format: "%.2f", $0 - deleted) } ?? "not within 5") s after the delete; peera's keepalived.log: netlink gp0 down at line \(netlink.map(String.init) ?? "-"), FAULT at line \(fault.map(String.init) ?? "-"); "
              + "health script failed at line \(scriptFailed.map(String.init) ?? "-"); addresses now on \(holdsVIPs("peerb") ? "peerb" : "peera")")
        XCTAssertTrue(eventually(10) { self.firstLine("peera", "(gatepeer_link_gp0) Entering BACKUP STATE", since: mark) != nil }, "peera BACKUP again")
        assertPeerbStaysSoleMaster(for: 2, "after the repair")
        // The inner address is keepalived's: on the new master's gp0, not on the repaired one.
        XCTAssertTrue(gp0HoldsInnerVIP("peerb"), "peerb's gp0 holds 10.255.255.254/9")
        XCTAssertFalse(gp0HoldsInnerVIP("peera"), "peera's repaired gp0 has no inner address")
        XCTAssertTrue(eventually(10) { self.ping(from: "backend", "10.128.0.11").status == 0 }, "backend -> dev1")
    }

    /// Test 3: both VPG peers down as the master sees them: peera's vxlan packets to the
    /// VPGs' underlay dropped (UDP 4789 to 100.64.0.0/10, an nft table of the test's own in
    /// peera's namespace; peerb untouched). gatepeer's liveness marks both peers down,
    /// health goes non-zero ("no VPG gate peer up"), keepalived faults on the script and
    /// peerb takes the addresses; the backend reaches dev1 through peerb. The time from
    /// the cut to the move is printed with what the settings predict.
    func testBothVPGPeersDownFromTheMasterMovesTheAddresses() throws {
        startRenderedPair()
        let mark = keepalivedLog("peera").count
        let cut = """
        table inet ghc_cut {
            chain out {
                type filter hook output priority 0; policy accept;
                ip daddr 100.64.0.0/10 udp dport 4789 drop
            }
        }
        """
        let start = Date().timeIntervalSince1970
        let nft = inNode("peera", ["nft", "-f", "-"], stdin: cut)
        XCTAssertEqual(nft.status, 0, nft.stderr)

        // Health on peera until it fails (it passes again once peera is standby), the
        // addresses on peerb until they move.
        var failed: (at: Double, line: String)?
        var movedAt: Double?
        let deadline = start + 20
        while Date().timeIntervalSince1970 < deadline, movedAt == nil {
            if failed == nil {
                let h = health("peera")
                if h.status != 0 { failed = (Date().timeIntervalSince1970, h.stderr) }
            }
            if holdsVIPs("peerb") { movedAt = Date().timeIntervalSince1970 } else { usleep(20_000) }
        }
        let moved = try XCTUnwrap(movedAt, "the addresses never moved to peerb: \(eth0Addresses("peerb"))")
        let f = try XCTUnwrap(failed, "health never failed on peera")
        XCTAssertTrue(f.line.contains("no VPG gate peer up"), "health says why: \(f.line)")
        XCTAssertFalse(holdsAnyVIP("peera"), "peera gave the addresses up: \(eth0Addresses("peera"))")
        let scriptFailed = firstLine("peera", "VRRP_Script(gatepeer_health) failed", since: mark)
        let fault = firstLine("peera", "(gatepeer_link_gp0) Entering FAULT STATE", since: mark)
        XCTAssertNotNil(scriptFailed, "keepalived saw the script fail:\n\(logSince("peera", mark).joined(separator: "\n"))")
        XCTAssertNotNil(fault, "keepalived on peera went FAULT")
        if let s = scriptFailed, let f = fault { XCTAssertLessThan(s, f, "FAULT because of the script") }
        XCTAssertTrue(eventually(10) { self.ping(from: "backend", "10.128.0.11").status == 0 }, "backend -> dev1 through peerb")
        XCTAssertTrue(eventually(10) { self.health("peerb").stdout.contains("master, ") }, "peerb judges its peers as master: \(health("peerb"))")
        print("HA health, both VPG peers cut from the master: health first non-zero \(String(format: "%.2f", f.at - start)) s after the cut, "
              + "addresses on peerb \(String(format: "%.2f", moved - start)) s after the cut (liveness interval 1 s, fall 3, RTO >= 0.1 s; "
              + "health interval 1 s, fall 2); health said: \(f.line)")
    }

    /// Both nodes lose every VPG gate peer (both VPGs cut). Neither can carry traffic, and
    /// a standby cannot judge its own peers, so without a hold-down the pair hands the
    /// master role back and forth every 5-6 s for as long as the cut lasts (seen in the
    /// lab: FAULT, standby "healthy", takeover, the takeover grace runs out, FAULT...), each
    /// move a cloud API call and a conntrackd commit. With ha.health.holdDownSeconds 20,
    /// peera, once it faulted, stays out for 20 s: no second MASTER within that window,
    /// health says "held down", and when the VPGs are back the pair recovers by itself.
    func testAHoldDownStopsThePairFlappingWhenBothLoseTheVPGs() throws {
        startRenderedPair(env: ["HA_CONFIG_JQ=.ha.health.holdDownSeconds = 20"])
        let mark = keepalivedLog("peera").count, markB = keepalivedLog("peerb").count
        let start = Date().timeIntervalSince1970
        XCTAssertEqual(lab("cut", "vpg1").status, 0)
        XCTAssertEqual(lab("cut", "vpg2").status, 0)
        var heldDown: String?
        var holders: [String] = []
        while Date().timeIntervalSince1970 < start + 22 {
            let now = holdsVIPs("peera") ? "peera" : holdsVIPs("peerb") ? "peerb" : "none"
            if holders.last != now { holders.append(now) }
            if heldDown == nil, firstLine("peera", "(gatepeer_link_gp0) Entering FAULT STATE", since: mark) != nil {
                let h = health("peera")
                if h.status != 0, h.stderr.contains("held down") { heldDown = h.stderr }
            }
            usleep(100_000)
        }
        print("HA hold-down, both VPGs cut: who held the addresses over 22 s: \(holders.joined(separator: " -> ")); peera's health: \(heldDown ?? "never held down")")
        XCTAssertNotNil(firstLine("peera", "(gatepeer_link_gp0) Entering FAULT STATE", since: mark), "peera faulted (no VPG gate peer up)")
        XCTAssertNil(firstLine("peera", "Entering MASTER STATE", since: mark), "peera master again within its hold-down: \(holders)")
        XCTAssertLessThanOrEqual(holders.filter { $0 == "peerb" }.count, 1, "peerb took over at most once: \(holders)")
        XCTAssertNotNil(heldDown, "health on peera said held down")
        XCTAssertEqual(lab("mend", "vpg1").status, 0)
        XCTAssertEqual(lab("mend", "vpg2").status, 0)
        XCTAssertTrue(eventually(40) { self.ping(from: "backend", "10.128.0.11").status == 0 },
                      "the pair recovered once the VPGs were back:\n\(logSince("peera", mark).suffix(8).joined(separator: "\n"))\n\(logSince("peerb", markB).suffix(8).joined(separator: "\n"))")
    }

    /// One `gatepeer health` on the master, 20 times: the median stays far below
    /// keepalived's script timeout (2 s, rendered from ha.health.timeoutSeconds).
    func testHealthRunsWellWithinKeepalivedsTimeout() throws {
        startRenderedPair()
        var times: [Double] = []
        for _ in 0..<20 {
            let t = Date()
            let h = health("peera")
            times.append(Date().timeIntervalSince(t))
            XCTAssertEqual(h.status, 0, h.stderr)
        }
        times.sort()
        let median = (times[9] + times[10]) / 2
        print("HA health: one `gatepeer health` on the master (ip netns exec included), 20 runs: median \(String(format: "%.3f", median)) s, "
              + "min \(String(format: "%.3f", times[0])) s, max \(String(format: "%.3f", times[19])) s (keepalived's script timeout 2 s)")
        XCTAssertLessThan(median, 1, "health takes half of keepalived's timeout or more")
    }
}
