import Foundation
import GatePeerCore
import XCTest

/// Event-driven repair (issue 12 item 1): `gatepeer run` with a resync of an hour, so
/// only the kernel's events can repair anything within a test. Each test changes one
/// object the config owns behind the daemon's back and waits (bounded) until the kernel
/// holds it again, read back with ip -j, bridge -j, sysctl and nft -j.
final class EventRepairTests: LabTestCase {
    private var log: URL!
    private var daemonProcess: Process!
    private var state: URL!
    private let cfg = packageRoot.appendingPathComponent("netconfig/lab-filter.json").path
    /// The config the daemon runs on (`cfg` unless the test gives another).
    private var runConfig: String!

    /// Starts the daemon in the peer node on lab-filter.json (links and a filter, so there
    /// is a table) and waits for the first converge (the backend reaches a device).
    private func startDaemon(_ env: [String] = [], config: String? = nil) {
        state = stateDir()
        runConfig = config ?? cfg
        log = state.deletingLastPathComponent().appendingPathComponent(state.lastPathComponent + ".log")
        addTeardownBlock { [log] in try? FileManager.default.removeItem(at: log!) }
        daemonProcess = background("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)"] + env + [gatepeerBinary, "run", "-c", config ?? cfg, "--resync", "3600"], log: log)
        XCTAssertTrue(eventually(config == nil ? 15 : 60) { self.ping(from: "backend", "10.128.0.11").status == 0 }, "daemon did not converge: \(logText())")
    }

    /// The value of one sample of `gatepeer metrics` (the daemon's counters, from its
    /// runtime report), e.g. `gatepeer_repairs_total{kind="route"}`; nil when absent.
    private func metric(_ sample: String) -> Double? {
        let m = inNode("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary, "metrics", "-c", runConfig])
        return m.stdout.split(separator: "\n").first { $0.hasPrefix(sample + " ") }
            .flatMap { Double($0.dropFirst(sample.count + 1)) }
    }

    private func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
    private func peer(_ args: String...) -> Run { inNode("peer", args) }
    private func json(_ r: Run) -> [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [[String: Any]] ?? []
    }

    private func ourRoute() -> Bool {
        json(peer("ip", "-j", "route", "show", "proto", "201")).contains { $0["dst"] as? String == "192.168.10.0/24" && $0["gateway"] as? String == "10.129.3.7" }
    }
    private func zeroEntry(_ dst: String) -> Bool {
        json(peer("bridge", "-j", "fdb", "show", "dev", "gp0")).contains {
            $0["mac"] as? String == "00:00:00:00:00:00" && $0["dst"] as? String == dst && ($0["state"] as? String) == "permanent"
        }
    }
    private func device() -> Bool {
        json(peer("ip", "-j", "-d", "link", "show", "gp0")).contains { l in
            ((l["linkinfo"] as? [String: Any])?["info_kind"] as? String) == "vxlan" && (l["flags"] as? [String] ?? []).contains("UP")
        }
    }
    private func innerAddress() -> Bool {
        json(peer("ip", "-j", "addr", "show", "dev", "gp0")).flatMap { $0["addr_info"] as? [[String: Any]] ?? [] }
            .contains { $0["local"] as? String == "10.255.255.254" && $0["prefixlen"] as? Int == 9 }
    }
    private func sysctl(_ key: String) -> String {
        peer("sysctl", "-n", key).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    /// Rules of table inet gatepeer as nft -j lists them (0 when the table is gone).
    private func tableRules() -> Int {
        let r = peer("nft", "-j", "list", "table", "inet", "gatepeer")
        guard r.status == 0, let doc = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
              let items = doc["nftables"] as? [[String: Any]] else { return 0 }
        return items.filter { $0["rule"] != nil }.count
    }

    /// Makes `change`, sees that it took (`holds` false), then waits up to 5 s for the
    /// daemon to make `holds` true again.
    /// `kind`: the repair kind the daemon counts it under (gatepeer_repairs_total).
    /// `trigger`: what the pass that repaired it must log (`event`; `poll` for accept_ra).
    private func assertRepaired(_ what: String, kind: String, trigger: String = "event", change: () -> Void, holds: () -> Bool, file: StaticString = #filePath, line: UInt = #line) {
        startDaemon()
        XCTAssertTrue(holds(), "\(what) missing after the first converge", file: file, line: line)
        XCTAssertEqual(metric("gatepeer_repairs_total{kind=\"\(kind)\"}"), 0, "a repair before any drift", file: file, line: line)
        change()
        XCTAssertTrue(eventually(5, holds), "\(what) not repaired within 5 s (resync is 3600 s): \(logText())", file: file, line: line)
        XCTAssertTrue(eventually(5) { (self.metric("gatepeer_repairs_total{kind=\"\(kind)\"}") ?? 0) >= 1 }, "repair not counted as \(kind)", file: file, line: line)
        // Repaired by the event, not by an overrun's resync or a poll.
        XCTAssertTrue(logText().split(separator: "\n").contains { $0.contains("gatepeer: applied object=\(kind) ") && $0.hasSuffix("trigger=\(trigger)") },
                      "no applied object=\(kind) ... trigger=\(trigger) line: \(logText())", file: file, line: line)
        XCTAssertTrue(daemonProcess.isRunning, file: file, line: line)
    }

    func testDeletedRouteIsRepairedOnTheEvent() {
        assertRepaired("route 192.168.10.0/24", kind: "route", change: {
            XCTAssertEqual(peer("ip", "route", "del", "192.168.10.0/24").status, 0)
        }, holds: ourRoute)
    }

    func testDeletedAllZeroFDBEntryIsRepairedOnTheEvent() {
        assertRepaired("fdb 00:00:00:00:00:00 dst 100.64.152.4", kind: "fdb", change: {
            XCTAssertEqual(peer("bridge", "fdb", "del", "00:00:00:00:00:00", "dev", "gp0", "dst", "100.64.152.4").status, 0)
        }, holds: { zeroEntry("100.64.152.4") })
    }

    func testDeletedVxlanDeviceIsRecreatedOnTheEvent() {
        assertRepaired("vxlan device gp0 with its route", kind: "link", change: {
            XCTAssertEqual(peer("ip", "link", "del", "gp0").status, 0)
        }, holds: { device() && innerAddress() && ourRoute() && zeroEntry("100.64.152.132") })
    }

    func testDeletedInnerAddressIsRepairedOnTheEvent() {
        assertRepaired("address 10.255.255.254/9 on gp0", kind: "address", change: {
            XCTAssertEqual(peer("ip", "addr", "del", "10.255.255.254/9", "dev", "gp0").status, 0)
        }, holds: { innerAddress() && ourRoute() })
    }

    /// Field fault (review of issue 12): `ip route del 10.128.0.0/9 dev gp0` (the prefix
    /// route the kernel adds with the inner address) was never put back: the address was
    /// there, so the plan was empty. The address is added again and the route returns.
    func testDeletedPrefixRouteIsRestoredOnTheEvent() {
        func prefixRoute() -> Bool {
            json(peer("ip", "-j", "route", "show", "10.128.0.0/9")).contains { $0["dev"] as? String == "gp0" && $0["protocol"] as? String == "kernel" }
        }
        assertRepaired("route 10.128.0.0/9 dev gp0 proto kernel", kind: "address", change: {
            XCTAssertEqual(peer("ip", "route", "del", "10.128.0.0/9", "dev", "gp0").status, 0)
        }, holds: { prefixRoute() && innerAddress() && ourRoute() })
        XCTAssertEqual(ping(from: "backend", "10.128.0.11").status, 0, "the device subnet is not routed again")
    }

    /// accept_ra has no netconf event: the daemon's one-second poll puts it back.
    func testAcceptRATurnedOnIsRepairedByThePoll() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: "/proc/sys/net/ipv6"), "no IPv6 in this kernel")
        assertRepaired("net.ipv6.conf.gp0.accept_ra = 0", kind: "sysctl", trigger: "poll", change: {
            XCTAssertEqual(peer("sysctl", "-qw", "net.ipv6.conf.gp0.accept_ra=1").status, 0)
        }, holds: { sysctl("net.ipv6.conf.gp0.accept_ra") == "0" })
    }

    func testChangedRPFilterIsRepairedOnTheNetconfEvent() {
        assertRepaired("net.ipv4.conf.gp0.rp_filter = 2", kind: "sysctl", change: {
            XCTAssertEqual(peer("sysctl", "-qw", "net.ipv4.conf.gp0.rp_filter=1").status, 0)
        }, holds: { sysctl("net.ipv4.conf.gp0.rp_filter") == "2" })
    }

    func testIPForwardTurnedOffIsRepairedOnTheNetconfEvent() {
        assertRepaired("net.ipv4.ip_forward = 1", kind: "sysctl", change: {
            XCTAssertEqual(peer("sysctl", "-qw", "net.ipv4.ip_forward=0").status, 0)
        }, holds: { sysctl("net.ipv4.ip_forward") == "1" })
    }

    /// `nft VERB table inet gatepeer` (delete, flush), then the table with all its rules
    /// again. No read-back of the emptied table: the daemon may already have refilled it.
    private func assertTableRepaired(_ verb: String, file: StaticString = #filePath, line: UInt = #line) {
        var rules = 0
        assertRepaired("table inet gatepeer after nft \(verb)", kind: "filter", change: {
            rules = tableRules()
            XCTAssertGreaterThan(rules, 0, file: file, line: line)
            XCTAssertEqual(peer("nft", verb, "table", "inet", "gatepeer").status, 0, file: file, line: line)
        }, holds: { rules == 0 || tableRules() == rules }, file: file, line: line)
    }

    func testDeletedNftTableIsReloadedOnTheEvent() { assertTableRepaired("delete") }

    func testFlushedNftTableIsReloadedOnTheEvent() { assertTableRepaired("flush") }

    /// Idle with traffic through the tunnel: learned FDB and ARP entries come and go with
    /// it, and none of that wakes the reconcile or applies anything. Our own applies at
    /// start caused events too; the passes they woke found nothing to do (else the
    /// "applied" lines would go on).
    func testIdleDaemonWithTrafficNeitherWakesNorApplies() {
        startDaemon()
        func count(_ needle: String) -> Int { logText().components(separatedBy: "\n").filter { $0.contains(needle) }.count }
        // The echo of the start's own changes (and IPv6 link-local addresses coming up)
        // settles first: wait until the log stays the same for a second.
        var last = ""
        XCTAssertTrue(eventually(10) {
            let now = logText()
            defer { last = now }
            if now != last { return false }
            Thread.sleep(forTimeInterval: 1)
            return logText() == now
        }, "log never settled: \(logText())")
        let applied = count("gatepeer: applied "), woken = count("gatepeer: kernel events ")
        let applies = metric("gatepeer_applies_total")
        let passes = ["event", "overrun", "poll"].map { metric("gatepeer_reconciles_total{trigger=\"\($0)\"}") }
        XCTAssertFalse(passes.contains(nil), "no gatepeer_reconciles_total in gatepeer metrics")
        // The start's own changes came back as notifications carrying our port ID and
        // were dropped unread (before, each woke a pass).
        XCTAssertGreaterThan(metric("gatepeer_kernel_events_own_total") ?? 0, 0, "no notification of our own requests was recognised")
        XCTAssertNotNil(applies, "no gatepeer_applies_total in gatepeer metrics")
        XCTAssertGreaterThan(applied, 0, "the start applied nothing? \(logText())")
        // Learned traffic: backend to both devices through the tunnel for 2 s.
        let p = inNode("backend", ["ping", "-c", "40", "-i", "0.05", "-q", "10.128.0.11"])
        XCTAssertEqual(p.status, 0, p.stdout + p.stderr)
        XCTAssertEqual(ping(from: "backend", "10.129.3.7").status, 0)
        let learned = json(peer("bridge", "-j", "fdb", "show", "dev", "gp0")).filter { ($0["mac"] as? String) != "00:00:00:00:00:00" }
        XCTAssertFalse(learned.isEmpty, "the traffic taught gp0 no address, so this test proves nothing")
        XCTAssertEqual(count("gatepeer: applied "), applied, "applied while idle: \(logText())")
        XCTAssertEqual(metric("gatepeer_applies_total"), applies, "the applies counter grew while idle")
        XCTAssertEqual(count("gatepeer: kernel events "), woken, "learned entries woke the reconcile: \(logText())")
        XCTAssertEqual(["event", "overrun", "poll"].map { metric("gatepeer_reconciles_total{trigger=\"\($0)\"}") }, passes, "passes ran while idle")
    }

    /// Field fault (review of issue 12): loading a large table made a notification per rule
    /// and element; they overran the event socket, so every reload of a large policy
    /// warned "kernel events lost" and ran a full resync. Now the socket leaves the
    /// nf_tables group while the pass loads the table and one pass after reads what it
    /// missed: no overrun, and a table deleted right after the load is still repaired.
    func testLargeTableLoadNeitherOverrunsNorDeafens() throws {
        // 30,000 deny prefixes with gaps between them (adjacent ones would merge into a
        // few intervals): 60,000 interval elements in one map.
        let text = try String(contentsOf: URL(fileURLWithPath: cfg), encoding: .utf8)
        var doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var filter = try XCTUnwrap(doc["filter"] as? [String: Any])
        var outbound = try XCTUnwrap(filter["outbound"] as? [[String: Any]])
        outbound[0]["default"] = "allow"
        outbound[0]["rules"] = (0..<30000).map { i in ["action": "deny", "destination": "20.\(i / 128).\(i % 128 * 2).0/24"] }
        filter["outbound"] = outbound
        doc["filter"] = filter
        let big = writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
        startDaemon(config: big)
        XCTAssertTrue(eventually(20) { (self.metric("gatepeer_reconciles_total{trigger=\"event\"}") ?? 0) >= 1 }, "no pass after the load: \(logText())")
        XCTAssertEqual(metric("gatepeer_kernel_event_overruns_total"), 0, "the table load overran the event socket: \(logText())")
        XCTAssertFalse(logText().contains("kernel events lost"), logText())
        // Listening again: a table deleted now is put back on its event.
        let rules = tableRules()
        XCTAssertGreaterThan(rules, 0)
        XCTAssertEqual(peer("nft", "delete", "table", "inet", "gatepeer").status, 0)
        XCTAssertTrue(eventually(20) { self.tableRules() == rules }, "table not reloaded after a large load: \(logText())")
        XCTAssertTrue(logText().split(separator: "\n").contains { $0.contains("gatepeer: applied object=filter ") && $0.hasSuffix("trigger=event") }, logText())
    }

    /// Field fault (recheck of issue 12): after an overrun the kernel drops every
    /// broadcast to the socket, without a second ENOBUFS, until its queue is read empty.
    /// The full pass used to run after the first 64 datagrams, so a change made while
    /// the rest of the backlog was read was never heard (2 of 8 trials: the LAN
    /// unreachable until the resync). The pass now waits for the empty queue. Each batch
    /// deletes our route, floods 30,000 routes of a device that is not ours, and deletes
    /// our route again at its end; the route must come back every time. Probabilistic
    /// against the old code (a quarter to a half of the batches), so four batches.
    func testChangeWhileTheBacklogIsReadIsHeard() throws {
        startDaemon()
        XCTAssertEqual(peer("ip", "link", "add", "flood0", "type", "veth", "peer", "name", "flood1").status, 0)
        XCTAssertEqual(peer("ip", "link", "set", "flood0", "up").status, 0)
        for trial in 0..<4 {
            let verb = trial % 2 == 0 ? "add" : "del"
            var batch = "route del 192.168.10.0/24\n"
            for i in 0..<30000 { batch += "route \(verb) 50.\(i / 250).\(i % 250).0/24 dev flood0\n" }
            batch += "route del 192.168.10.0/24\n"
            let file = writeConfig(batch)
            _ = inNode("peer", ["ip", "-force", "-batch", file])
            XCTAssertTrue(eventually(10) { self.ourRoute() }, "trial \(trial): route not back after a change during the backlog: \(logText())")
        }
        XCTAssertGreaterThan(metric("gatepeer_kernel_event_overruns_total") ?? 0, 0, "no overrun: the test proves nothing")
    }

    /// Field fault (recheck of issue 12): someone else's more specific route inside a
    /// destination we route (`ip route add 10.128.0.11/32 dev eth0`) took a device off
    /// the tunnel while status said in sync. It wakes a pass at once, is a blocker
    /// (status exits 3) and is left alone; deleted, the blocker clears.
    func testMoreSpecificForeignRouteIsReportedAtOnce() {
        startDaemon()
        let st = { self.inNode("peer", ["env", "GATEPEER_STATE_DIR=\(self.state.path)", gatepeerBinary, "status", "-c", self.cfg]) }
        XCTAssertEqual(st().status, 0, st().stdout)
        XCTAssertEqual(peer("ip", "route", "add", "10.128.0.11/32", "dev", "eth0").status, 0)
        XCTAssertTrue(eventually(5) { self.logText().contains("10.128.0.11/32 dev eth0 (protocol 3), which gatepeer does not own, is more specific than 10.128.0.0/9") }, logText())
        let s = st()
        XCTAssertEqual(s.status, 3, s.stdout)
        XCTAssertTrue(s.stdout.contains("more specific than 10.128.0.0/9"), s.stdout)
        XCTAssertTrue(json(peer("ip", "-j", "route", "show", "10.128.0.11/32")).contains { $0["dev"] as? String == "eth0" }, "the foreign route was touched")
        XCTAssertEqual(peer("ip", "route", "del", "10.128.0.11/32", "dev", "eth0").status, 0)
        // The blocker's own "cleared:" line, not any other problem clearing.
        XCTAssertTrue(eventually(5) { self.logText().split(separator: "\n").contains { $0.contains("cleared: ") && $0.contains("10.128.0.11/32") } }, logText())
        XCTAssertTrue(eventually(5) { st().status == 0 }, st().stdout)
    }

    /// An event whose reconcile found the namespace's writer lock taken (a grant or an
    /// apply of another process) is retried once the lock is free, not left to the resync
    /// an hour away: the event will not come again.
    func testRepairThatFoundTheWriterLockTakenIsRetried() throws {
        startDaemon(["GATEPEER_LOCK_WAIT=1"])
        let inode = sh(["stat", "-L", "-c", "%i", "/run/netns/\(node("peer"))"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let lock = "/run/gatepeer/netns-\(inode).lock"
        XCTAssertFalse(inode.isEmpty)
        background("peer", ["flock", lock, "sleep", "4"])
        XCTAssertTrue(eventually(5) { sh(["flock", "-n", lock, "true"]).status != 0 }, "the test could not take \(lock)")
        XCTAssertEqual(peer("ip", "route", "del", "192.168.10.0/24").status, 0)
        XCTAssertTrue(eventually(5) { self.logText().contains("trying again") }, "the daemon never met the held lock: \(logText())")
        XCTAssertFalse(ourRoute(), "repaired while another writer held the lock")
        XCTAssertTrue(eventually(10) { self.ourRoute() }, "not repaired once the lock was free: \(logText())")
    }

    /// Events the kernel could not queue (ENOBUFS) lead to a full resync. The daemon is
    /// stopped (SIGSTOP) so its receive buffer fills with 30,000 route events of a device
    /// that is not ours; our route is deleted after the buffer is full, so its own event
    /// is lost; after SIGCONT only the overrun can bring the route back.
    func testOverrunLeadsToAFullResync() throws {
        startDaemon()
        let pid = try XCTUnwrap(Int32(sh(["pgrep", "-P", "\(daemonProcess.processIdentifier)"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)), "no gatepeer under the holder")
        XCTAssertEqual(peer("ip", "link", "add", "flood0", "type", "veth", "peer", "name", "flood1").status, 0)
        XCTAssertEqual(peer("ip", "link", "set", "flood0", "up").status, 0)
        kill(pid, SIGSTOP)
        var stopped = true
        defer { if stopped { kill(pid, SIGCONT) } }
        var batch = ""
        for i in 0..<30000 { batch += "route add 10.200.\(i / 250).\(i % 250)/32 dev flood0\n" }
        let file = URL(fileURLWithPath: writeConfig(batch))
        let flood = inNode("peer", ["ip", "-batch", file.path])
        XCTAssertEqual(flood.status, 0, flood.stderr)
        XCTAssertEqual(peer("ip", "route", "del", "192.168.10.0/24").status, 0)
        kill(pid, SIGCONT)
        stopped = false
        XCTAssertTrue(eventually(10) { self.ourRoute() }, "route not repaired after the overrun: \(logText())")
        XCTAssertTrue(logText().contains("kernel events lost"), "no overrun seen: \(logText())")
        XCTAssertTrue(eventually(5) { (self.metric("gatepeer_kernel_event_overruns_total") ?? 0) >= 1 }, "overrun not counted")
    }
}
