import Foundation
import XCTest

/// `gatepeer metrics` and `status` against the lab's kernel: the exposition passes
/// `promtool check metrics` and its values are the kernel's; `status` exits 3 on drift
/// and 0 in sync; the daemon's runtime report is believed only while that daemon lives.
final class MetricsLabTests: LabTestCase {
    let filterConfig = packageRoot.appendingPathComponent("netconfig/lab-filter.json").path
    let plainConfig = packageRoot.appendingPathComponent("netconfig/lab.json").path

    override func setUpWithError() throws {
        try super.setUpWithError()
        // The allowed destination answers (FilterLabTests' server): a connection the
        // filter lets through completes, so its packets are counted by rules[0].
        background("inet", ["socat", "TCP-LISTEN:443,fork,reuseaddr", "SYSTEM:read -r _; echo ok"])
        XCTAssertTrue(eventually(5) { self.tcp(from: "inet", "203.0.113.10", 443).status == 0 }, "no listener on 203.0.113.10:443")
    }

    /// promtool from Debian's prometheus package, unpacked (not installed) by
    /// scripts/lib/common.sh's ensure_promtool into a cache the tests own.
    func promtool() throws -> String {
        let path = "/var/cache/gatepeer-test/promtool/usr/bin/promtool"
        if !FileManager.default.isExecutableFile(atPath: path) {
            let r = sh(["bash", "-c", "source \"$1\" && ensure_promtool", "bash", packageRoot.appendingPathComponent("scripts/lib/common.sh").path])
            XCTAssertEqual(r.status, 0, "ensure_promtool: \(r.stderr)")
        }
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: path), "no promtool at \(path)")
        return path
    }

    func assertPromtoolAccepts(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = sh([try promtool(), "check", "metrics"], stdin: text)
        XCTAssertEqual(r.status, 0, "promtool check metrics: \(r.stdout)\(r.stderr)\n\(text)", file: file, line: line)
        XCTAssertEqual(r.stdout + r.stderr, "", "promtool's lint findings", file: file, line: line)
    }

    /// The samples of `text`: "name{labels}" -> value.
    func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for l in text.split(separator: "\n") where !l.hasPrefix("#") {
            guard let sp = l.lastIndex(of: " "), let v = Double(l[l.index(after: sp)...]) else { continue }
            out[String(l[..<sp])] = v
        }
        return out
    }

    /// The kernel's own view: a named counter of table inet gatepeer (nft -j).
    func nftCounter(_ name: String) throws -> (packets: Double, bytes: Double) {
        let r = inNode("peer", ["nft", "-j", "list", "counter", "inet", "gatepeer", name])
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stderr)
        for item in doc["nftables"] as? [[String: Any]] ?? [] {
            if let c = item["counter"] as? [String: Any], let p = c["packets"] as? Double, let b = c["bytes"] as? Double { return (p, b) }
        }
        XCTFail("no counter \(name): \(r.stdout)")
        return (-1, -1)
    }

    /// tx bytes of gp0 as `ip -s` reads IFLA_STATS64.
    func linkTxBytes() throws -> Double {
        let r = inNode("peer", ["ip", "-j", "-s", "link", "show", "gp0"])
        let l = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])?.first)
        return try XCTUnwrap(((l["stats64"] as? [String: Any])?["tx"] as? [String: Any])?["bytes"] as? Double)
    }

    /// The lab's plain config with probes every 100 ms and the config's `metrics` section
    /// (nil: none), written for the test: its path and text.
    func probingConfig(metrics: [String: Any]? = nil) throws -> (path: String, text: String) {
        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: plainConfig))) as? [String: Any])
        var links = try XCTUnwrap(doc["links"] as? [[String: Any]])
        links[0]["liveness"] = ["intervalMs": 100]
        doc["links"] = links
        if let metrics { doc["metrics"] = metrics }
        let text = String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self)
        return (writeConfig(text), text)
    }

    /// `gatepeer run -c cfg` in the peer node with `state` as its state directory: the
    /// process, its log so far, and a runner of other gatepeer commands with that state.
    func startDaemon(_ state: URL, _ cfg: String) -> (Process, () -> String, (String...) -> Run) {
        let log = URL(fileURLWithPath: state.path + ".log")
        addTeardownBlock { try? FileManager.default.removeItem(at: log) }
        let p = background("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary, "run", "-c", cfg], log: log)
        return (p, { (try? String(contentsOf: log, encoding: .utf8)) ?? "" },
                { (args: String...) in self.inNode("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary] + args) })
    }

    func testMetricsPassPromtoolAndAreTheKernelsCounters() throws {
        let apply = gatepeer("apply", "-c", filterConfig)
        XCTAssertEqual(apply.status, 0, apply.stderr)
        let rule0 = "gatepeer_filter_rule_packets_total{group=\"0\",group_name=\"fleet\",rule=\"0\"}"
        let before = gatepeer("metrics", "-c", filterConfig)
        XCTAssertEqual(before.status, 0, before.stderr)
        try assertPromtoolAccepts(before.stdout)
        let b = samples(before.stdout)

        // Allowed by rules[0] (tcp 443 to 203.0.113.10), denied by the default (tcp 22).
        for _ in 0..<3 { XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 443).status, 0) }
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0)
        XCTAssertEqual(ping(from: "backend", "10.128.0.11").status, 0)

        let txLow = try linkTxBytes()
        let after = gatepeer("metrics", "-c", filterConfig)
        let txHigh = try linkTxBytes()
        XCTAssertEqual(after.status, 0, after.stderr)
        try assertPromtoolAccepts(after.stdout)
        let a = samples(after.stdout)
        // Each allowed connection's first packet is decided by rules[0] (the rest are established).
        XCTAssertGreaterThanOrEqual((a[rule0] ?? -1) - (b[rule0] ?? 0), 3, after.stdout)
        let deny = "gatepeer_filter_rule_packets_total{group=\"0\",group_name=\"fleet\",rule=\"default\"}"
        XCTAssertGreaterThanOrEqual((a[deny] ?? -1) - (b[deny] ?? 0), 1, after.stdout)
        // The same numbers the kernel holds (no traffic in between).
        let allow = try nftCounter("out_allow")
        XCTAssertEqual(a["gatepeer_filter_verdict_packets_total{verdict=\"out_allow\"}"], allow.packets)
        XCTAssertEqual(a["gatepeer_filter_verdict_bytes_total{verdict=\"out_allow\"}"], allow.bytes)
        let tx = try XCTUnwrap(a["gatepeer_link_transmit_bytes_total{link=\"gp0\"}"])
        XCTAssertGreaterThan(tx, b["gatepeer_link_transmit_bytes_total{link=\"gp0\"}"] ?? .infinity, "link bytes grow with the pings")
        XCTAssertTrue(txLow <= tx && tx <= txHigh, "\(txLow) <= \(tx) <= \(txHigh)")
        XCTAssertEqual(a["gatepeer_link_up{link=\"gp0\"}"], 1)
        XCTAssertEqual(a["gatepeer_in_sync"], 1)
        XCTAssertEqual(a["gatepeer_daemon_running"], 0, "no daemon runs: no daemon counters")
        XCTAssertNil(a["gatepeer_applies_total"])
        XCTAssertFalse(after.stdout.contains("gatepeer_peer_up"), "no daemon: peer liveness unknown, so absent")
    }

    /// Issue 12 item 6: drift makes `status` exit 3 (it exited 0, "in sync" aside), until
    /// it is repaired.
    func testStatusExitsThreeOnDriftAndZeroInSync() throws {
        XCTAssertEqual(gatepeer("apply", "-c", plainConfig).status, 0)
        var s = gatepeer("status", "-c", plainConfig)
        XCTAssertEqual(s.status, 0, s.stdout + s.stderr)
        _ = inNode("peer", ["ip", "route", "del", "192.168.10.0/24"])
        s = gatepeer("status", "-c", plainConfig)
        XCTAssertEqual(s.status, 3, s.stdout + s.stderr)
        XCTAssertTrue(s.stdout.contains("1 change(s) pending"), s.stdout)
        let j = gatepeer("status", "--json", "-c", plainConfig)
        XCTAssertEqual(j.status, 3)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(doc["degraded"] as? Bool, true)
        XCTAssertEqual(doc["degradedReasons"] as? [String], ["1 change(s) pending"])
        let m = samples(gatepeer("metrics", "-c", plainConfig).stdout)
        XCTAssertEqual(m["gatepeer_in_sync"], 0)
        XCTAssertEqual(m["gatepeer_pending_changes"], 1)
        XCTAssertEqual(gatepeer("apply", "-c", plainConfig).status, 0)
        XCTAssertEqual(gatepeer("status", "-c", plainConfig).status, 0)
    }

    /// The daemon writes runtime.json (0600) and its textfile; status and metrics show its
    /// pid and counters only while it lives: after it stops (or for a report naming
    /// another live process) peers are unknown and there are no daemon counters.
    func testRuntimeReportIsBelievedOnlyWhileItsDaemonLives() throws {
        let state = stateDir()
        let textfile = state.deletingLastPathComponent().appendingPathComponent(state.lastPathComponent + ".prom")
        addTeardownBlock { try? FileManager.default.removeItem(at: textfile) }
        var text = try String(contentsOfFile: filterConfig, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"forwarding\": true,", with: "\"forwarding\": true, \"metrics\": {\"textfile\": \"\(textfile.path)\"},")
        let cfg = writeConfig(text)
        XCTAssertEqual(gatepeer("validate", "-c", cfg).status, 0)
        let log = state.deletingLastPathComponent().appendingPathComponent(state.lastPathComponent + ".log")
        addTeardownBlock { try? FileManager.default.removeItem(at: log) }
        let p = background("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary, "run", "-c", cfg], log: log)
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        // The state of a named namespace lives in <base>/netns/<name>.
        let runtime = state.appendingPathComponent("netns/\(node("peer"))/runtime.json")
        func withState(_ args: String...) -> Run { inNode("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary] + args) }
        func statusDoc() throws -> [String: Any] {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(withState("status", "--json", "-c", cfg).stdout.utf8)) as? [String: Any])
        }
        XCTAssertTrue(eventually(15) { FileManager.default.fileExists(atPath: runtime.path) && FileManager.default.fileExists(atPath: textfile.path) },
                      "no runtime.json or textfile: \(logText())")
        let mode = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: runtime.path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: runtime)) as? [String: Any])
        let pid = try XCTUnwrap(report["pid"] as? Int)
        XCTAssertEqual(sh(["cat", "/proc/\(pid)/comm"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines), "gatepeer")
        XCTAssertTrue(eventually(10) { ((try? statusDoc()["daemon"]) as? [String: Any])?["pid"] as? Int == pid }, "status does not name the live daemon")
        let m = withState("metrics", "-c", cfg)
        XCTAssertEqual(samples(m.stdout)["gatepeer_daemon_running"], 1, m.stdout + m.stderr)
        try assertPromtoolAccepts(m.stdout)
        try assertPromtoolAccepts(try String(contentsOf: textfile, encoding: .utf8))
        XCTAssertEqual(samples(try String(contentsOf: textfile, encoding: .utf8))["gatepeer_daemon_running"], 1)

        // A report naming a live process that is not this namespace's daemon is stale.
        p.terminate()
        p.waitUntilExit()
        XCTAssertTrue(eventually(5) { sh(["kill", "-0", "\(pid)"]).status != 0 }, "daemon \(pid) still running")
        var forged = try String(contentsOf: runtime, encoding: .utf8)
        forged = forged.replacingOccurrences(of: "\"pid\": \(pid)", with: "\"pid\": \(getpid())")
        for r in [try String(contentsOf: runtime, encoding: .utf8), forged] {
            try r.write(to: runtime, atomically: true, encoding: .utf8)
            let doc = try statusDoc()
            XCTAssertTrue(doc["daemon"] is NSNull, "\(doc["daemon"] ?? "nil")")
            let peers = try XCTUnwrap((doc["links"] as? [[String: Any]])?.first?["peers"] as? [[String: Any]])
            XCTAssertEqual(Set(peers.compactMap { $0["state"] as? String }), ["unknown"])
            XCTAssertEqual(samples(withState("metrics", "-c", cfg).stdout)["gatepeer_daemon_running"], 0)
        }
        // The stopped daemon's last textfile says it is gone.
        XCTAssertEqual(samples(try String(contentsOf: textfile, encoding: .utf8))["gatepeer_daemon_running"], 0, logText())
    }

    /// The daemon's textfile (a kernel read: links, filter counters) is not rewritten with
    /// every runtime.json (rewritten about once a second while peers are probed): before,
    /// each probe second read the whole kernel and planned the whole filter again for it
    /// (75% of a core with a 20,000-rule filter). Counted by the files' replacements (each
    /// write is a rename, so a new inode), not by time.
    func testTextfileIsNotRewrittenWithEveryRuntimeReport() throws {
        let state = stateDir()
        let textfile = URL(fileURLWithPath: state.path + ".prom")
        addTeardownBlock { try? FileManager.default.removeItem(at: textfile) }
        let (cfg, _) = try probingConfig(metrics: ["textfile": textfile.path])
        let (_, journal, withState) = startDaemon(state, cfg)
        let runtime = state.appendingPathComponent("netns/\(node("peer"))/runtime.json")
        func inode(_ u: URL) -> UInt64? { (try? FileManager.default.attributesOfItem(atPath: u.path)[.systemFileNumber] as? UInt64) ?? nil }
        // Settled: in sync and both peers up, so no transition asks for a textfile at once.
        XCTAssertTrue(eventually(20) {
            let r = withState("status", "-c", cfg)
            return r.status == 0 && r.stdout.contains("100.64.152.4 up") && r.stdout.contains("100.64.152.132 up")
        }, journal())
        var reports: Set<UInt64> = [], textfiles: Set<UInt64> = []
        XCTAssertTrue(eventually(30) {
            if let i = inode(runtime) { reports.insert(i) }
            if let i = inode(textfile) { textfiles.insert(i) }
            return reports.count >= 5
        }, "runtime.json not rewritten while peers are probed: \(journal())")
        // Four rewrites of runtime.json take at least four seconds; the textfile is
        // refreshed every 15 s, so at most once in between.
        XCTAssertLessThanOrEqual(textfiles.count, 2, "textfile replaced \(textfiles.count) times while runtime.json was \(reports.count) times")
        let m = samples(try String(contentsOf: textfile, encoding: .utf8))
        XCTAssertEqual(m["gatepeer_in_sync"], 1)
        XCTAssertEqual(m["gatepeer_peer_up{link=\"gp0\",peer=\"100.64.152.4\"}"], 1)
    }

    /// The daemon's textfile, read without planning and reusing the map element counters
    /// while no named counter moved, holds the same filter counters as `gatepeer metrics`
    /// (which reads everything now) once traffic went through rules and defaults.
    func testTextfileFilterCountersAreTheKernels() throws {
        let state = stateDir()
        let textfile = URL(fileURLWithPath: state.path + ".prom")
        addTeardownBlock { try? FileManager.default.removeItem(at: textfile) }
        var text = try String(contentsOfFile: filterConfig, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"forwarding\": true,", with: "\"forwarding\": true, \"metrics\": {\"textfile\": \"\(textfile.path)\"},")
        let cfg = writeConfig(text)
        let (_, journal, withState) = startDaemon(state, cfg)
        func filterSamples(_ t: String) -> [String: Double] {
            samples(t).filter { $0.key.hasPrefix("gatepeer_filter_rule_") || $0.key.hasPrefix("gatepeer_filter_verdict_") }
        }
        func fromFile() -> String { (try? String(contentsOf: textfile, encoding: .utf8)) ?? "" }
        XCTAssertTrue(eventually(20) { self.samples(fromFile())["gatepeer_in_sync"] == 1 }, "textfile never in sync: \(journal())")
        let rule0 = "gatepeer_filter_rule_packets_total{group=\"0\",group_name=\"fleet\",rule=\"0\"}"
        let before = samples(fromFile())[rule0] ?? 0
        for _ in 0..<3 { XCTAssertEqual(tcp(from: "dev1", "203.0.113.10", 443).status, 0) }
        XCTAssertNotEqual(tcp(from: "dev1", "203.0.113.10", 22).status, 0)
        var file: [String: Double] = [:], now: [String: Double] = [:]
        XCTAssertTrue(eventually(40) {
            file = filterSamples(fromFile())
            now = filterSamples(withState("metrics", "-c", cfg).stdout)
            return (file[rule0] ?? 0) >= before + 3 && file == now
        }, "textfile \(file.filter { now[$0.key] != $0.value }) vs metrics \(now.filter { file[$0.key] != $0.value })")
        XCTAssertFalse(file.isEmpty)
    }

    /// A daemon that holds the namespace but whose report cannot be believed is named,
    /// with its peers unknown and status degraded (exit 3): frozen (SIGSTOP: its report
    /// grows old), its pid's report written by an earlier process (start time differs),
    /// and a report it cannot write (runtime.json replaced by a directory). Before, the
    /// frozen daemon's last report showed both peers up with exit 0, and the directory
    /// made status say "daemon: none running" with exit 0.
    func testStatusDistrustsAStaleOrUnreadableReportOfALiveDaemon() throws {
        let state = stateDir()
        let (cfg, _) = try probingConfig()
        let (_, journal, withState) = startDaemon(state, cfg)
        let runtime = state.appendingPathComponent("netns/\(node("peer"))/runtime.json")
        XCTAssertTrue(eventually(15) { FileManager.default.fileExists(atPath: runtime.path) }, journal())
        // The daemon's own pid (the background process is the namespace wrapper).
        let first = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: runtime)) as? [String: Any])
        let pid = pid_t(try XCTUnwrap(first["pid"] as? Int))
        XCTAssertEqual(sh(["cat", "/proc/\(pid)/comm"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines), "gatepeer")
        // A frozen daemon cannot be stopped by the harness's SIGTERM.
        addTeardownBlock { kill(pid, SIGCONT) }
        func statusDoc(_ r: Run) -> [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]) ?? [:] }
        func peerStates(_ r: Run) -> Set<String> {
            let ps = ((statusDoc(r)["links"] as? [[String: Any]])?.first?["peers"] as? [[String: Any]]) ?? []
            return Set(ps.compactMap { $0["state"] as? String })
        }
        var status = Run(status: -1, stdout: "", stderr: "")
        XCTAssertTrue(eventually(15) { status = withState("status", "--json", "-c", cfg); return status.status == 0 && peerStates(status) == ["up"] },
                      "both peers up, exit 0: \(status.stdout)\n\(journal())")
        /// status --json and text agree: exit 3, the daemon named by its pid, peers unknown, `reason` said.
        func assertDistrusted(_ reason: String, file: StaticString = #filePath, line: UInt = #line) {
            let j = withState("status", "--json", "-c", cfg)
            XCTAssertEqual(j.status, 3, j.stdout + j.stderr, file: file, line: line)
            XCTAssertEqual(peerStates(j), ["unknown"], j.stdout, file: file, line: line)
            XCTAssertEqual((statusDoc(j)["daemon"] as? [String: Any])?["pid"] as? Int, Int(pid), j.stdout, file: file, line: line)
            let reasons = statusDoc(j)["degradedReasons"] as? [String] ?? []
            XCTAssertTrue(reasons.contains { $0.hasPrefix("daemon pid \(pid) runs but its runtime report") && $0.contains(reason) }, "\(reasons)",
                          file: file, line: line)
            let t = withState("status", "-c", cfg)
            XCTAssertEqual(t.status, 3, file: file, line: line)
            XCTAssertTrue(t.stdout.contains("daemon: gatepeer run pid \(pid) (peer liveness unknown)"), t.stdout, file: file, line: line)
            let m = samples(withState("metrics", "-c", cfg).stdout)
            XCTAssertEqual(m["gatepeer_daemon_report_problem"], 1, file: file, line: line)
            XCTAssertNil(m["gatepeer_peer_up{link=\"gp0\",peer=\"100.64.152.4\"}"], file: file, line: line)
        }

        // Frozen: nothing rewrites the report. First a forged fresh one whose daemon
        // started long before this process (pid reuse), then the real last one ageing.
        XCTAssertEqual(kill(pid, SIGSTOP), 0)
        let last = try String(contentsOf: runtime, encoding: .utf8)
        var report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        report["written"] = Date().timeIntervalSince1970
        report["startTime"] = (report["startTime"] as? Double ?? 0) - 1000
        try JSONSerialization.data(withJSONObject: report).write(to: runtime)
        assertDistrusted("earlier process with the same pid")
        try last.write(to: runtime, atomically: true, encoding: .utf8)
        XCTAssertTrue(eventually(30) { withState("status", "-c", cfg).status == 3 }, "a frozen daemon's report never went stale")
        assertDistrusted("last written")

        // Unwritable: runtime.json is a directory, also once the daemon runs again.
        try FileManager.default.removeItem(at: runtime)
        try FileManager.default.createDirectory(at: runtime, withIntermediateDirectories: false)
        XCTAssertEqual(kill(pid, SIGCONT), 0)
        assertDistrusted("cannot be read")
        XCTAssertFalse(withState("status", "-c", cfg).stdout.contains("none running"))

        // Writable again: believed again.
        try FileManager.default.removeItem(at: runtime)
        XCTAssertTrue(eventually(15) { status = withState("status", "--json", "-c", cfg); return status.status == 0 && peerStates(status) == ["up"] },
                      "believed again: \(status.stdout)\n\(journal())")
    }

    /// Issue 12 item 6 with a real daemon: while both VPG gate peers answer, status exits
    /// 0 and metrics show them up with an RTT; once one VPG is unplugged and the daemon
    /// judges it down, status exits 3 naming it and gatepeer_peer_up is 0. A refused
    /// reload is counted.
    func testStatusExitsThreeWhenTheDaemonJudgesAPeerDown() throws {
        let state = stateDir()
        let (cfg, cfgText) = try probingConfig()
        let (p, journal, withState) = startDaemon(state, cfg)
        func peers(_ r: Run) -> [String: String] {
            let d = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
            let ps = ((d?["links"] as? [[String: Any]])?.first?["peers"] as? [[String: Any]]) ?? []
            return Dictionary(uniqueKeysWithValues: ps.map { ($0["address"] as? String ?? "?", $0["state"] as? String ?? "?") })
        }
        let up = ["100.64.152.4": "up", "100.64.152.132": "up"]
        var status = Run(status: -1, stdout: "", stderr: "")
        XCTAssertTrue(eventually(15) { status = withState("status", "--json", "-c", cfg); return peers(status) == up },
                      "both peers up: \(status.stdout)\n\(journal())")
        XCTAssertEqual(status.status, 0, status.stdout)
        var m = withState("metrics", "-c", cfg)
        try assertPromtoolAccepts(m.stdout)
        var s = samples(m.stdout)
        XCTAssertEqual(s["gatepeer_peer_up{link=\"gp0\",peer=\"100.64.152.4\"}"], 1, m.stdout)
        XCTAssertGreaterThan(s["gatepeer_peer_rtt_seconds{link=\"gp0\",peer=\"100.64.152.4\"}"] ?? 0, 0, m.stdout)
        XCTAssertGreaterThan(s["gatepeer_peer_probes_sent_total{link=\"gp0\",peer=\"100.64.152.4\"}"] ?? 0, 0, m.stdout)

        XCTAssertEqual(lab("cut", "vpg1").status, 0)
        XCTAssertTrue(eventually(10) { status = withState("status", "--json", "-c", cfg); return peers(status)["100.64.152.4"] == "down" },
                      "peer judged down: \(status.stdout)\n\(journal())")
        XCTAssertEqual(status.status, 3, status.stdout)
        let d = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(d["degradedReasons"] as? [String], ["peer 100.64.152.4 of link gp0 down"])
        XCTAssertEqual(peers(status)["100.64.152.132"], "up")
        let text = withState("status", "-c", cfg)
        XCTAssertEqual(text.status, 3)
        XCTAssertTrue(text.stdout.contains("degraded: peer 100.64.152.4 of link gp0 down"), text.stdout)
        m = withState("metrics", "-c", cfg)
        try assertPromtoolAccepts(m.stdout)
        s = samples(m.stdout)
        XCTAssertEqual(s["gatepeer_peer_up{link=\"gp0\",peer=\"100.64.152.4\"}"], 0, m.stdout)
        XCTAssertEqual(s["gatepeer_peer_up{link=\"gp0\",peer=\"100.64.152.132\"}"], 1, m.stdout)
        XCTAssertGreaterThanOrEqual(s["gatepeer_peer_transitions_total{link=\"gp0\",peer=\"100.64.152.4\"}"] ?? 0, 1, m.stdout)

        // A refused reload is counted, a taken one too.
        try "{ not json".write(toFile: cfg, atomically: true, encoding: .utf8)
        kill(p.processIdentifier, SIGHUP)
        XCTAssertTrue(eventually(5) { journal().contains("reload refused") }, journal())
        try cfgText.write(toFile: cfg, atomically: true, encoding: .utf8)
        XCTAssertTrue(eventually(5) { self.samples(withState("metrics", "-c", cfg).stdout)["gatepeer_config_load_errors_total"] == 1 },
                      journal())
        kill(p.processIdentifier, SIGHUP)
        XCTAssertTrue(eventually(5) { self.samples(withState("metrics", "-c", cfg).stdout)["gatepeer_config_reloads_total"] == 1 },
                      journal())
    }
}

/// The metrics textfile from the shipped unit under a real systemd: ProtectSystem=strict
/// makes /var/lib read-only for the daemon but for the paths the unit names, so the
/// default textfile must be one of them.
extension SystemdUnitTests {
    func testShippedUnitWritesTheDefaultMetricsTextfile() throws {
        let lab = try bootLab(config: Self.config())
        // What Debian's prometheus-node-exporter package makes.
        XCTAssertEqual(lab.exec("mkdir", "-p", "/var/lib/prometheus/node-exporter").status, 0)
        XCTAssertEqual(lab.exec("systemctl", "start", "gatepeer").status, 0, lab.journal("gatepeer"))
        let file = "/var/lib/prometheus/node-exporter/gatepeer.prom"
        XCTAssertTrue(eventually(20) { lab.exec("cat", file).stdout.contains("gatepeer_daemon_running 1") },
                      "no textfile at \(file):\n\(lab.journal("gatepeer"))")
        // node_exporter runs as its own user: readable by all, whatever the unit's UMask.
        XCTAssertEqual(lab.exec("stat", "-c", "%a", file).stdout.trimmingCharacters(in: .whitespacesAndNewlines), "644")
        XCTAssertEqual(lab.exec("stat", "-c", "%a", "/var/lib/gatepeer/runtime.json").stdout.trimmingCharacters(in: .whitespacesAndNewlines), "600")
        // The daemon's report is what status reads: its pid is the unit's main pid.
        let pid = lab.show("gatepeer", ["MainPID"])["MainPID"] ?? "?"
        // Not the test's GATEPEER_STATE_DIR (exec keeps the environment): the unit's.
        let status = lab.exec("env", "-u", "GATEPEER_STATE_DIR", "/usr/local/bin/gatepeer", "status", "--json")
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], status.stderr)
        XCTAssertEqual((doc["daemon"] as? [String: Any])?["pid"] as? Int, Int(pid), status.stdout + status.stderr)
        XCTAssertFalse(lab.journal("gatepeer").contains("not written"), lab.journal("gatepeer"))
        XCTAssertEqual(lab.exec("systemctl", "stop", "gatepeer").status, 0)
        XCTAssertTrue(lab.exec("cat", file).stdout.contains("gatepeer_daemon_running 0"), "a stopped daemon's last textfile says so")
    }
}
