import Foundation
import XCTest
@testable import GatePeerCore

/// The daemon's runtime report (round trip, refusals), the Prometheus exposition of
/// `gatepeer metrics` (golden text, escaping, bounded labels), `status`'s peers and its
/// degraded decision (exit 3), and the config's metrics.textfile.
final class MetricsTests: XCTestCase {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static let config = """
    {"links": [
      {"name": "gp0", "vxlanId": 10, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.255.255.254/9",
       "peers": [{"outerIpAddress": "100.64.152.4", "innerIpAddress": "10.255.255.1"}, {"outerIpAddress": "100.64.152.132", "innerIpAddress": "10.255.255.2"}],
       "routes": [{"destination": "192.168.10.0/24", "via": "10.129.3.7"}]}],
     "filter": {"uplinkDevice": "uplink", "resolvers": ["203.0.113.53"],
       "outbound": [
         {"name": "staff-ops", "sources": ["10.128.0.0/10"], "default": "deny", "rules": [
           {"action": "allow", "destination": "203.0.113.0/24", "protocol": "tcp", "ports": [443]},
           {"action": "allow", "domain": "api.example.com"}]}]}}
    """

    func decoded(_ text: String = config) throws -> GatePeerConfig {
        try ConfigDecoder.decode(text).get()
    }

    /// A daemon's report: one peer up with an RTT, one down (keeping its last RTT, as the
    /// liveness service leaves it), repairs of two kinds.
    func runtime() -> RuntimeReport {
        var c = DaemonCounters()
        c.applies = 3
        c.changesApplied = 17
        c.repairs = ["route": 2, "fdb": 1]
        c.failures = 1
        c.configLoadErrors = 1
        c.reloads = 2
        c.events = 120
        c.eventOverruns = 1
        c.peerFlushes = 1
        c.ownEvents = 40
        c.passes = ["start": 1, "event": 4, "reload": 2]
        c.lastConverged = 1_764_570_000.25
        return RuntimeReport(pid: 4242, startTime: 1_764_569_000.5, written: 1_764_570_001.75, counters: c, peers: [
            PeerLiveness(link: "gp0", outerIpAddress: IPAddress("100.64.152.4")!, probeTarget: IPAddress("10.255.255.1"), state: .up,
                         since: 1_764_569_010, rttSeconds: 0.00125, probesSent: 990, probesLost: 2, transitions: 1),
            PeerLiveness(link: "gp0", outerIpAddress: IPAddress("100.64.152.132")!, probeTarget: IPAddress("10.255.255.2"), state: .down,
                         since: 1_764_569_900, rttSeconds: 0.002, probesSent: 990, probesLost: 95, transitions: 3),
        ])
    }

    /// The converged kernel with counters: link stats, verdicts, rule 0's named counter
    /// and the group's default, the guard's drops.
    func status(_ config: GatePeerConfig, runtime: RuntimeReport?, observed edit: (inout ObservedState) -> Void = { _ in }) -> StatusReport {
        var o = convergedObserved(config)
        o.links[2].stats = LinkStats(rxPackets: 1000, rxBytes: 123_456, txPackets: 900, txBytes: 98_765)
        o.filter?.counters = ["out_allow": PacketCount(packets: 50, bytes: 5000), "out_deny": PacketCount(packets: 7, bytes: 420),
                              "r0_0": PacketCount(packets: 11, bytes: 1100), "g0_default": PacketCount(packets: 7, bytes: 420),
                              "vx0_drop": PacketCount(packets: 2, bytes: 180)]
        edit(&o)
        let plan = Planner.plan(config: config, observed: o, dynamic: [])
        var r = StatusReport(config: config, observed: o, plan: plan)
        r.filter = FilterStatus(config: config, observed: o, ruleset: plan.ruleset, elements: [:], pending: plan.changes)
        r.attach(runtime)
        return r
    }

    func testRuntimeReportRoundTrip() throws {
        let r = runtime()
        let text = r.json.render()
        XCTAssertEqual(try RuntimeReport.decode(text), r)
        XCTAssertEqual(try RuntimeReport.decode(r.json.render(pretty: false)), r)
        // A report before the first converge and without probes.
        let empty = RuntimeReport(pid: 1, startTime: 0, written: 0, counters: DaemonCounters(),
                                  peers: [PeerLiveness(link: "gp0", outerIpAddress: IPAddress("2001:db8::1")!, probeTarget: nil)])
        XCTAssertEqual(try RuntimeReport.decode(empty.json.render()), empty)
        // A report of a daemon from before ownEvents and passes were counted still reads.
        let older = text.replacingOccurrences(of: "\"ownEvents\": 40,", with: "").replacing(#/"passes": \{[^}]*\},/#, with: "")
        XCTAssertNotEqual(older, text)
        var expected = r
        expected.counters.ownEvents = 0
        expected.counters.passes = [:]
        XCTAssertEqual(try RuntimeReport.decode(older), expected)
    }

    /// A down peer keeps its last RTT in the daemon's report (rttSeconds 0.002), but
    /// status and metrics show an RTT only while up; the text says since when it is down
    /// (UTC), as PeerStatus.text's doc promises.
    func testDownPeerShowsSinceAndNoRTT() throws {
        let config = try decoded()
        let live = status(config, runtime: runtime())
        let down = live.links[0].peers[1]
        XCTAssertEqual(down.text, "100.64.152.132 down since 2025-12-01 06:18:20 UTC (95/990 probes lost)")
        guard case .object(let o) = down.json else { return XCTFail("shape") }
        XCTAssertEqual(o["rttSeconds"], .null)
        XCTAssertEqual(o["since"], .double(1_764_569_900))
        let text = GatePeerMetrics.render(live, config: config, grantsActive: nil, learnedAddresses: nil)
        XCTAssertFalse(text.contains("gatepeer_peer_rtt_seconds{link=\"gp0\",peer=\"100.64.152.132\"}"), text)
        XCTAssertTrue(text.contains("gatepeer_peer_rtt_seconds{link=\"gp0\",peer=\"100.64.152.4\"} 0.00125"), text)
        // The runtime report itself keeps the last RTT (history for the next reader).
        XCTAssertEqual(try RuntimeReport.decode(runtime().json.render()).peers[1].rttSeconds, 0.002)
        XCTAssertEqual(PeerStatus.utc(0), "1970-01-01 00:00:00 UTC")
        XCTAssertEqual(PeerStatus.utc(1_709_208_000.9), "2024-02-29 12:00:00 UTC")
        XCTAssertEqual(PeerStatus.utc(-1), "1969-12-31 23:59:59 UTC")
    }

    /// A link whose peers cannot be probed (no probe socket): kept in the report, a
    /// degraded reason, and gatepeer_link_probe_problem 1.
    func testLivenessProblemIsReportedAndDegrades() throws {
        let config = try decoded()
        var r = runtime()
        r.peers[1].state = .up
        r.livenessProblems = ["gp0": "probe socket not opened: Operation not permitted (CAP_NET_RAW?)"]
        XCTAssertEqual(try RuntimeReport.decode(r.json.render()), r)
        let s = status(config, runtime: r)
        XCTAssertEqual(s.degradedReasons, ["peers of link gp0 not probed: probe socket not opened: Operation not permitted (CAP_NET_RAW?)"])
        XCTAssertTrue(s.text.contains("degraded: peers of link gp0 not probed: "), s.text)
        let text = GatePeerMetrics.render(s, config: config, grantsActive: nil, learnedAddresses: nil)
        XCTAssertTrue(text.contains("gatepeer_link_probe_problem{link=\"gp0\"} 1\n"), text)
        // A report without the member (an older daemon's) reads as no problem.
        guard case .object(var o) = r.json else { return XCTFail("shape") }
        o["livenessProblems"] = nil
        XCTAssertEqual(try RuntimeReport.decode(JSONOut.object(o).render()).livenessProblems, [:])
    }

    /// A daemon holds the namespace but its report cannot be believed (stale, unreadable):
    /// peers unknown, degraded naming the pid and why, text and JSON name the pid, and
    /// gatepeer_daemon_report_problem 1 with no peer series.
    func testUnbelievableReportOfALiveDaemonDegrades() throws {
        let config = try decoded()
        var s = status(config, runtime: nil)
        s.attachUnbelievable(pid: "77", problem: "was last written 40 s ago")
        XCTAssertEqual(s.links[0].peers.map(\.state), [.unknown, .unknown])
        XCTAssertEqual(s.degradedReasons, ["daemon pid 77 runs but its runtime report was last written 40 s ago"])
        XCTAssertTrue(s.text.contains("daemon: gatepeer run pid 77 (peer liveness unknown)"), s.text)
        guard case .object(let root) = s.json, case .object(let d)? = root["daemon"] else { return XCTFail("shape") }
        XCTAssertEqual(d["pid"], .int(77))
        XCTAssertEqual(d["problem"], .string("daemon pid 77 runs but its runtime report was last written 40 s ago"))
        let text = GatePeerMetrics.render(s, config: config, grantsActive: nil, learnedAddresses: nil)
        XCTAssertTrue(text.contains("gatepeer_daemon_report_problem 1\n"), text)
        XCTAssertTrue(text.contains("gatepeer_daemon_running 0\n"), text)
        XCTAssertFalse(text.contains("gatepeer_peer_up{"), text)
        // Attaching a fresh report clears it.
        s.attach(runtime())
        XCTAssertNil(s.runtimeHolder)
        XCTAssertFalse(s.degradedReasons.contains { $0.hasPrefix("daemon pid") })
        // Staleness: several heartbeats old, or written in the future (clock set back).
        let r = runtime()
        XCTAssertFalse(r.isStale(now: r.written + RuntimeReport.heartbeat))
        XCTAssertTrue(r.isStale(now: r.written + RuntimeReport.staleAfter + 1))
        XCTAssertTrue(r.isStale(now: r.written - RuntimeReport.staleAfter - 1))
    }

    /// The textfile's status built from the last reconcile's problems: blockers apart,
    /// the rest pending; in sync only without any.
    func testStatusFromReconcileProblems() throws {
        let config = try decoded()
        let o = convergedObserved(config)
        XCTAssertTrue(StatusReport(config: config, observed: o, reconcileProblems: []).inSync)
        let s = StatusReport(config: config, observed: o, reconcileProblems: ["blocked: underlay eth9 missing", "route refused: EINVAL"])
        XCTAssertFalse(s.inSync)
        XCTAssertEqual(s.blockers, ["underlay eth9 missing"])
        XCTAssertEqual(s.pendingChanges, ["route refused: EINVAL"])
    }

    func testRuntimeReportRefusesDamageNamingTheField() {
        let good = runtime().json.render()
        let cases: [(String, String)] = [
            ("{", ""),
            (good.replacingOccurrences(of: "\"version\": 1", with: "\"version\": 2"), "version"),
            (good.replacingOccurrences(of: "\"state\": \"down\"", with: "\"state\": \"sideways\""), "peers[1].state"),
            (good.replacingOccurrences(of: "\"applies\": 3", with: "\"applies\": -3"), "counters.applies"),
            (good.replacingOccurrences(of: "\"pid\": 4242", with: "\"pid\": 99999999999"), "pid"),
            (good.replacingOccurrences(of: "\"outerIpAddress\": \"100.64.152.4\"", with: "\"outerIpAddress\": \"x\""), "peers[0].outerIpAddress"),
            (good.replacingOccurrences(of: "\"route\": 2", with: "\"route\": \"2\""), "counters.repairs.route"),
            (good.replacingOccurrences(of: "\"event\": 4", with: "\"event\": 4.5"), "counters.passes.event"),
            (good.replacingOccurrences(of: "\"ownEvents\": 40", with: "\"ownEvents\": null"), "counters.ownEvents"),
        ]
        for (text, field) in cases {
            XCTAssertThrowsError(try RuntimeReport.decode(text), field) { e in
                XCTAssertEqual((e as? RuntimeReportError)?.field, field, "\(e)")
            }
        }
    }

    func testMetricsGolden() throws {
        let config = try decoded()
        let text = GatePeerMetrics.render(status(config, runtime: runtime()), config: config, grantsActive: 2, learnedAddresses: 5)
        try compareGolden(text, "metrics-daemon.prom")
        // Without a live daemon: no peer or daemon series, gatepeer_daemon_running 0.
        let alone = GatePeerMetrics.render(status(config, runtime: nil), config: config, grantsActive: 0, learnedAddresses: 0)
        try compareGolden(alone, "metrics-no-daemon.prom")
    }

    func compareGolden(_ text: String, _ name: String) throws {
        let file = MetricsTests.golden.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["GATEPEER_UPDATE_GOLDEN"] == "1" {
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        XCTAssertEqual(text, try String(contentsOf: file, encoding: .utf8), name)
    }

    /// Every family has HELP and TYPE once before its samples, counters end in _total,
    /// names and label names are valid, and no sample carries an address the filter
    /// learned or a grant: only config names and indexes.
    func testExpositionShape() throws {
        let config = try decoded()
        let text = GatePeerMetrics.render(status(config, runtime: runtime()), config: config, grantsActive: 2, learnedAddresses: 5)
        XCTAssertTrue(text.hasSuffix("\n"))
        var typed: [String: String] = [:]
        var seen: [String] = []
        let name = try NSRegularExpression(pattern: "^gatepeer_[a-z_]+$")
        func valid(_ s: String) -> Bool { name.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil }
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# HELP ") {
                let n = String(line.dropFirst(7).prefix { $0 != " " })
                XCTAssertFalse(seen.contains(n), "family \(n) written twice")
                seen.append(n)
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                XCTAssertEqual(String(parts[2]), seen.last)
                typed[String(parts[2])] = String(parts[3])
                XCTAssertEqual(parts[3] == "counter", parts[2].hasSuffix("_total"), line)
            } else {
                let n = String(line.prefix { $0 != "{" && $0 != " " })
                XCTAssertTrue(valid(n), line)
                XCTAssertEqual(n, seen.last, "sample outside its family: \(line)")
                XCTAssertNotNil(Double(line.split(separator: " ").last!), line)
            }
        }
        XCTAssertEqual(Set(typed.keys).count, seen.count)
        // The learned address and the rule's destination never become label values.
        XCTAssertFalse(text.contains("203.0.113"), text)
    }

    func testLabelAndHelpEscaping() {
        var e = Exposition()
        e.add("gatepeer_x_total", .counter, "a \\ b\nc \"q\"", [([("group_name", "a\"b\\c\nd")], .count(1))])
        e.add("gatepeer_y_seconds", .gauge, "y", .real(0.5))
        e.add("gatepeer_empty", .gauge, "never written", [])
        XCTAssertEqual(e.text, """
        # HELP gatepeer_x_total a \\\\ b\\nc "q"
        # TYPE gatepeer_x_total counter
        gatepeer_x_total{group_name="a\\"b\\\\c\\nd"} 1
        # HELP gatepeer_y_seconds y
        # TYPE gatepeer_y_seconds gauge
        gatepeer_y_seconds 0.5

        """)
        XCTAssertEqual(Exposition.Value.real(.infinity).text, "+Inf")
        XCTAssertEqual(Exposition.Value.real(.nan).text, "NaN")
        XCTAssertEqual(Exposition.Value.count(UInt64.max).text, "18446744073709551615")
    }

    /// Status: peers are objects with their liveness; a peer down, drift or a blocker
    /// degrade (exit 3); unknown peers (no daemon) do not.
    func testStatusPeersAndDegraded() throws {
        let config = try decoded()
        let live = status(config, runtime: runtime())
        let peers = live.links[0].peers
        XCTAssertEqual(peers.map(\.state), [.up, .down])
        XCTAssertEqual(peers[0].liveness?.currentRTT, 0.00125)
        XCTAssertEqual(live.degradedReasons, ["peer 100.64.152.132 of link gp0 down"])
        XCTAssertTrue(live.text.contains("  peers 100.64.152.4 up rtt 1.25 ms (2/990 probes lost), 100.64.152.132 down since 2025-12-01 06:18:20 UTC (95/990 probes lost)"), live.text)
        guard case .object(let root) = live.json, case .array(let links)? = root["links"], case .object(let l0) = links[0],
              case .array(let ps)? = l0["peers"] else { return XCTFail("shape") }
        XCTAssertEqual(ps[0], .object(["address": .string("100.64.152.4"), "state": .string("up"), "since": .double(1_764_569_010),
                                       "rttSeconds": .double(0.00125), "probesSent": .uint(990), "probesLost": .uint(2),
                                       "transitions": .uint(1)]))
        XCTAssertEqual(root["degraded"], .bool(true))

        var allUp = runtime()
        allUp.peers[1].state = .up
        XCTAssertEqual(status(config, runtime: allUp).degradedReasons, [])

        let none = status(config, runtime: nil)
        XCTAssertEqual(none.links[0].peers.map(\.state), [.unknown, .unknown])
        XCTAssertEqual(none.degradedReasons, [], "unknown peers without a daemon are not degraded")
        XCTAssertTrue(none.text.contains("  peers 100.64.152.4 unknown, 100.64.152.132 unknown"), none.text)

        // Drift: the route is gone from the kernel.
        let drift = status(config, runtime: allUp) { $0.routes.removeAll { $0.protocolNumber == Ownership.routeProtocol } }
        XCTAssertEqual(drift.degradedReasons, ["1 change(s) pending"])
        // A blocker: the underlay device is missing.
        let blocked = status(config, runtime: nil) { o in o.links.removeAll { $0.name == "eth0" } }
        XCTAssertTrue(blocked.degradedReasons.contains { $0.hasPrefix("blocked: ") }, "\(blocked.degradedReasons)")
    }

    func testTextfileConfig() throws {
        func with(_ metrics: String) -> String {
            MetricsTests.config.replacingOccurrences(of: "{\"links\": [", with: "{\"metrics\": \(metrics), \"links\": [")
        }
        XCTAssertEqual(try decoded().metricsTextfile, .automatic)
        XCTAssertEqual(try decoded(with("{}")).metricsTextfile, .automatic)
        XCTAssertEqual(try decoded(with("{\"textfile\": \"/srv/m/gp.prom\"}")).metricsTextfile, .path("/srv/m/gp.prom"))
        XCTAssertEqual(try decoded(with("{\"textfile\": false}")).metricsTextfile, .off)
        for (bad, path) in [("{\"textfile\": \"gp.prom\"}", "metrics.textfile"), ("{\"textfile\": \"/x/gp.txt\"}", "metrics.textfile"),
                            ("{\"textfile\": true}", "metrics.textfile"), ("{\"textfile\": null}", "metrics.textfile"),
                            ("{\"textfile\": \"/x/../gp.prom\"}", "metrics.textfile"), ("{\"textfile\": \"/x/gp.prom/\"}", "metrics.textfile"), ("{\"textfle\": \"/x.prom\"}", "metrics.textfle"),
                            ("\"/x.prom\"", "metrics")] {
            guard case .failure(let e) = ConfigDecoder.decode(with(bad)) else { XCTFail(bad); continue }
            XCTAssertEqual(e.problems.map(\.path), [path], "\(bad): \(e.problems)")
        }
        XCTAssertEqual(MetricsTextfile.automatic.target(hostNamespace: true) { _ in false }, nil)
        XCTAssertEqual(MetricsTextfile.automatic.target(hostNamespace: true) { $0 == MetricsTextfile.defaultDirectory },
                       "/var/lib/prometheus/node-exporter/gatepeer.prom")
        XCTAssertEqual(MetricsTextfile.automatic.target(hostNamespace: false) { _ in true }, nil, "one default file for the system's namespace only")
        XCTAssertEqual(MetricsTextfile.path("/m/a.prom").target(hostNamespace: false) { _ in false }, "/m/a.prom")
        XCTAssertEqual(MetricsTextfile.off.target(hostNamespace: true) { _ in true }, nil)
    }
}
