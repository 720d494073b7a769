import Foundation
import XCTest

/// One node of an HA pair (netconfig/ha/peer-a.json) in a namespace of its own, as root:
/// the standby state applied and read back, keepalived's and conntrackd's own parsers on
/// what `gatepeer ha render` writes, `gatepeer health` on the standby, a takeover and a
/// master whose gate peers do not answer, and `gatepeer ha notify` (the gratuitous ARP on
/// the wire, the hook, nothing taken away on BACKUP). The failover lab with two nodes and
/// real keepalived daemons is HA lab work of its own (scripts/lab).
final class HAKernelTests: KernelTestCase {
    static let example = packageRoot.appendingPathComponent("netconfig/ha/peer-a.json").path

    /// A namespace like peer-a before keepalived ran: eth0 with the node's own
    /// 172.31.0.11/24 only (the moving 172.31.0.254 is absent: the standby state).
    func makeNode() throws -> Namespace {
        let ns = try makeNamespace("ha")
        ns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
        ns.ip("addr", "add", "172.31.0.11/24", "dev", "eth0")
        ns.ip("link", "set", "eth0", "up")
        ns.ip("link", "set", "eth1", "up")
        return ns
    }

    /// peer-a.json with `edit` applied, written to a temporary file.
    func config(_ edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        var o = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.example))) as! [String: Any]
        edit(&o)
        return writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: o), as: UTF8.self))
    }

    func route(_ ns: Namespace) -> [String: Any]? { ns.routes("proto", "201").first { $0["dst"] as? String == "192.168.10.0/24" } }

    /// The standby applies without a blocker: gp0 exists and is up with local 172.31.0.254
    /// (not on eth0), no inner address, the LAN route onlink; the next plan is empty. As
    /// keepalived moves the addresses in (master) and out (backup) nothing is planned but
    /// the route the kernel flushes with the device's last address.
    func testStandbyConvergesAndStaysSoAcrossTransitions() throws {
        let ns = try makeNode()
        let cfg = try config()
        let apply = ns.gatepeer("apply", "-c", cfg)
        XCTAssertEqual(apply.status, 0, apply.stderr)
        XCTAssertTrue(apply.stderr.contains("note: links[0].outerIpAddress: 172.31.0.254 is not on eth0: this node is the HA standby"), apply.stderr)
        XCTAssertFalse(apply.stderr.contains("blocked"), apply.stderr)
        let gp0 = try XCTUnwrap(ns.link("gp0"))
        XCTAssertTrue((gp0["flags"] as? [String] ?? []).contains("UP"), "\(gp0)")
        XCTAssertEqual(((gp0["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any])?["local"] as? String, "172.31.0.254")
        XCTAssertEqual(gp0["address"] as? String, "56:7f:19:58:44:c5", "the MAC the config writes out")
        XCTAssertEqual(ns.addresses("gp0"), [], "the inner address is keepalived's")
        XCTAssertEqual(ns.addresses("eth0"), ["172.31.0.11/24"])
        XCTAssertTrue((route(ns)?["flags"] as? [String] ?? []).contains("onlink"), "\(String(describing: route(ns)))")
        // The vxlan socket is bound to the wildcard address although 172.31.0.254 is not local.
        XCTAssertTrue(ns.exec(["ss", "-Huan", "sport", "= :4789"]).stdout.contains("0.0.0.0:4789"))
        func plan() -> Run { ns.gatepeer("plan", "-c", cfg) }
        XCTAssertEqual(plan().stdout, "no changes\n", plan().stderr)
        XCTAssertEqual(plan().status, 0)

        // keepalived makes this node master: both addresses arrive.
        ns.ip("addr", "add", "172.31.0.254/24", "dev", "eth0")
        ns.ip("addr", "add", "10.255.255.254/9", "dev", "gp0")
        XCTAssertEqual(plan().stdout, "no changes\n", plan().stderr)
        XCTAssertFalse(plan().stderr.contains("standby"), "master: no standby note")

        // Back to backup: keepalived deletes them; the kernel flushes gp0's routes with
        // its last IPv4 address, and the next apply puts the route back, onlink.
        ns.ip("addr", "del", "10.255.255.254/9", "dev", "gp0")
        ns.ip("addr", "del", "172.31.0.254/24", "dev", "eth0")
        XCTAssertNil(route(ns), "the kernel flushed it")
        XCTAssertEqual(plan().stdout, "+ route 192.168.10.0/24 via 10.129.3.7 dev gp0 proto gatepeer onlink\n")
        XCTAssertEqual(ns.gatepeer("apply", "-c", cfg).status, 0)
        XCTAssertNotNil(route(ns))
        XCTAssertEqual(plan().stdout, "no changes\n")
    }

    /// keepalived's own check accepts what `ha render` writes: the two-instance file with
    /// its sync group, the one-instance file with a cloud hook, and the sync group with a
    /// hook (notify_master_rx_lower_pri is an instance keyword); in a namespace where
    /// the devices it names exist (keepalived -t checks that too).
    func testKeepalivedAcceptsTheRender() throws {
        let ns = try makeNode()
        let cfg = try config()
        XCTAssertEqual(ns.gatepeer("apply", "-c", cfg).status, 0)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-keepalived-\(UUID().uuidString.prefix(8)).conf")
        addTeardownBlock { try? FileManager.default.removeItem(at: out) }
        let hook = packageRoot.appendingPathComponent("netconfig/ha/aws-move-ip.sh").path
        for (label, file) in [("sync group", cfg), ("one instance with a hook", try config { o in
            var ha = o["ha"] as! [String: Any]
            ha["backend"] = nil
            ha["hook"] = ["path": hook, "timeoutSeconds": 20]
            o["ha"] = ha
        }), ("sync group with a hook", try config { o in
            var ha = o["ha"] as! [String: Any]
            ha["hook"] = ["path": hook, "timeoutSeconds": 20]
            o["ha"] = ha
        })] {
            let r = ns.gatepeer("ha", "render", "-c", file, "-o", out.path)
            XCTAssertEqual(r.status, 0, "\(label): \(r.stderr)")
            let text = try String(contentsOf: out, encoding: .utf8)
            XCTAssertEqual(text.contains("vrrp_sync_group gatepeer"), label.hasPrefix("sync group"), text)
            XCTAssertEqual(text.contains("notify_master_rx_lower_pri"), label.hasSuffix("with a hook"), text)
            // The binary's own path (/proc/self/exe: symlinks such as .build/debug resolved).
            let binary = URL(fileURLWithPath: gatepeerBinary).resolvingSymlinksInPath().path
            XCTAssertTrue(text.contains("script \"\(binary) health -c \(file)\""), text)
            let check = ns.exec(["keepalived", "-t", "-f", out.path])
            print("HAKernelTests: keepalived -t -f (\(label)): exit \(check.status) \(check.stdout)\(check.stderr)")
            XCTAssertEqual(check.status, 0, "\(label): keepalived -t refused it:\n\(check.stdout)\(check.stderr)\n\(text)")
        }
        // The check is real: a file it must refuse (a keyword keepalived does not know).
        let bad = try String(contentsOf: out, encoding: .utf8).replacingOccurrences(of: "    nopreempt", with: "    no_preemptt")
        try bad.write(to: out, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(ns.exec(["keepalived", "-t", "-f", out.path]).status, 0, "keepalived -t accepted an unknown keyword")
    }

    /// conntrackd has no check-only mode (conntrackd(8): -C, -d and client commands), so the
    /// rendered file is proven by starting conntrackd on it in the node's namespace (its
    /// UDP channel binds 172.31.0.11 on eth0), asking it for statistics over its UNIX
    /// socket, and stopping it by its pid. The lock file and socket are in a temporary
    /// directory through ha.conntrackd.lockFile and socketPath (the host's /var/run and
    /// /var/lock stay untouched), and `-o` writes the file where configPath says, so the
    /// `conntrackd -C configPath` commands of ha notify reach this daemon.
    func testConntrackdRunsOnTheRender() throws {
        let ns = try makeNode()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-conntrackd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("conntrackd.conf")
        let cfg = try config { o in
            var ha = o["ha"] as! [String: Any]
            ha["conntrackd"] = ["port": 3780, "configPath": file.path, "lockFile": dir.path + "/conntrack.lock", "socketPath": dir.path + "/conntrackd.ctl"]
            o["ha"] = ha
        }
        let r = ns.gatepeer("ha", "render", "--conntrackd", "-c", cfg, "-o", file.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try String(contentsOf: file, encoding: .utf8)
        XCTAssertTrue(text.contains("Mode FTFW"), text)
        XCTAssertTrue(text.contains("\tLockFile \(dir.path)/conntrack.lock\n") && text.contains("\t\tPath \(dir.path)/conntrackd.ctl\n"), text)

        func start(_ conf: URL) throws -> (Process, URL) {
            let log = dir.appendingPathComponent(conf.lastPathComponent + ".log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let h = try FileHandle(forWritingTo: log)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            // nsenter execs conntrackd in place: the process's pid is conntrackd's.
            p.arguments = ["nsenter", "--net=/run/netns/\(ns.name)", "conntrackd", "-C", conf.path]
            p.standardOutput = h
            p.standardError = h
            try p.run()
            return (p, log)
        }
        let (p, log) = try start(file)
        let pid = p.processIdentifier
        addTeardownBlock { if p.isRunning { kill(pid, SIGKILL); p.waitUntilExit() } }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        XCTAssertTrue(eventually(15) { ns.exec(["conntrackd", "-C", file.path, "-s"]).status == 0 || !p.isRunning },
                      "conntrackd did not answer: \(logText())")
        XCTAssertTrue(p.isRunning, "conntrackd refused the rendered file:\n\(logText())\n\(text)")
        let stats = ns.exec(["conntrackd", "-C", file.path, "-s"])
        print("HAKernelTests: conntrackd -s on the rendered file: exit \(stats.status), \(stats.stdout.split(separator: "\n").count) lines")
        XCTAssertEqual(stats.status, 0, stats.stderr)
        // ha notify's conntrackd steps (BACKUP: -t, -n) run `conntrackd -C configPath`,
        // which reaches this daemon's socket: exit 0 only when both commands were answered.
        let notify = ns.gatepeer("ha", "notify", "-c", cfg, "BACKUP")
        print("HAKernelTests: ha notify BACKUP with conntrackd: exit \(notify.status)\n\(notify.stderr)")
        XCTAssertEqual(notify.status, 0, notify.stderr)
        for step in ["-t", "-n"] {
            XCTAssertTrue(notify.stderr.contains("change=\"conntrackd -C \(file.path) \(step)\" state=BACKUP exit=0"), notify.stderr)
        }
        kill(pid, SIGTERM)
        XCTAssertTrue(eventually(10) { !p.isRunning }, "conntrackd did not stop on SIGTERM")

        // The check is real: conntrackd refuses a file with a keyword it does not know.
        let bad = dir.appendingPathComponent("bad.conf")
        try text.replacingOccurrences(of: "Mode FTFW {", with: "Mode FTFWX {").write(to: bad, atomically: true, encoding: .utf8)
        let (q, badLog) = try start(bad)
        let qpid = q.processIdentifier
        addTeardownBlock { if q.isRunning { kill(qpid, SIGKILL); q.waitUntilExit() } }
        XCTAssertTrue(eventually(10) { !q.isRunning }, "conntrackd ran on a broken file")
        XCTAssertNotEqual(q.terminationStatus, 0, (try? String(contentsOf: badLog, encoding: .utf8)) ?? "")
    }

    /// `gatepeer health`: not healthy without a daemon; healthy on the standby (its peers
    /// cannot be probed through a tunnel whose source it does not hold); after a takeover
    /// healthy while liveness has not had time to judge, then not healthy when no gate
    /// peer answers (this namespace has no VPG). It writes nothing.
    func testHealthOnStandbyTakeoverAndDeadPeers() throws {
        let ns = try makeNode()
        let cfg = try config()
        XCTAssertEqual(ns.gatepeer("apply", "-c", cfg).status, 0)
        let state = ProcessInfo.processInfo.environment["GATEPEER_STATE_DIR"]!
        let files = try FileManager.default.subpathsOfDirectory(atPath: state).sorted()
        let none = ns.gatepeer("health", "-c", cfg)
        XCTAssertEqual(none.status, 1)
        XCTAssertEqual(none.stderr, "not healthy: no gatepeer run manages this network namespace, so nothing keeps the links converged or probes the VPG gate peers\n")
        XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: state).sorted(), files, "health wrote state")

        let log = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-ha-daemon-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        addTeardownBlock { try? FileManager.default.removeItem(at: log) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["nsenter", "--net=/run/netns/\(ns.name)", gatepeerBinary, "run", "-c", cfg]
        let h = try FileHandle(forWritingTo: log)
        p.standardOutput = h
        p.standardError = h
        try p.run()
        let pid = p.processIdentifier
        addTeardownBlock { kill(pid, SIGTERM); p.waitUntilExit() }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        func health() -> Run { ns.gatepeer("health", "-c", cfg) }

        XCTAssertTrue(eventually(30) { health().status == 0 }, "standby never healthy: \(health().stderr)\n\(logText())")
        XCTAssertEqual(health().stdout, "healthy: gp0 standby (outer address 172.31.0.254 not on eth0; peers are judged by the master)\n")

        // Takeover: keepalived adds the addresses. Peers are down (nothing answers here).
        ns.ip("addr", "add", "172.31.0.254/24", "dev", "eth0")
        ns.ip("addr", "add", "10.255.255.254/9", "dev", "gp0")
        let taking = health()
        XCTAssertEqual(taking.status, 0, taking.stderr)
        XCTAssertTrue(taking.stdout.hasPrefix("healthy: gp0 taking over (outer address held "), taking.stdout)
        XCTAssertTrue(eventually(15) { health().status == 1 }, "still healthy: \(health().stdout)")
        XCTAssertEqual(health().stderr, "not healthy: link gp0: no VPG gate peer up (100.64.152.4 down, 100.64.152.132 down)\n")
        XCTAssertTrue(p.isRunning, logText())
    }

    /// `gatepeer ha notify` as keepalived calls it: on MASTER a gratuitous ARP for the
    /// moved outer address is on the wire and the hook ran with the state; on BACKUP the
    /// hook ran and no address was taken away; bad arguments exit 2.
    func testNotifyAnnouncesRunsTheHookAndTakesNothingAway() throws {
        let ns = try makeNode()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-hook-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let hook = dir.appendingPathComponent("hook.sh")
        let record = dir.appendingPathComponent("calls")
        try "#!/bin/sh\necho \"$1 $GATEPEER_HA_STATE $GATEPEER_HA_OUTER_ADDRESSES $GATEPEER_HA_INTERFACE\" >> \(record.path)\n"
            .write(to: hook, atomically: true, encoding: .utf8)
        chmod(hook.path, 0o755)
        let cfg = try config { o in
            var ha = o["ha"] as! [String: Any]
            ha["conntrackd"] = nil
            ha["hook"] = ["path": hook.path, "timeoutSeconds": 5]
            o["ha"] = ha
        }
        XCTAssertEqual(ns.gatepeer("apply", "-c", cfg).status, 0)
        ns.ip("addr", "add", "172.31.0.254/24", "dev", "eth0")
        ns.ip("addr", "add", "10.255.255.254/9", "dev", "gp0")
        ns.ip("addr", "add", "172.31.0.253/24", "dev", "eth0")
        var master = Run(status: -1, stdout: "", stderr: "")
        let wire = tcpdump(namespace: ns.name, count: 1, filter: "arp and src host 172.31.0.254") {
            master = ns.gatepeer("ha", "notify", "-c", cfg, "GROUP", "gatepeer", "MASTER", "150")
        }
        XCTAssertEqual(master.status, 0, master.stderr)
        XCTAssertTrue(wire.contains("Request who-has 172.31.0.254 tell 172.31.0.254"), wire)
        for line in ["gatepeer: ha notify state=MASTER type=group name=gatepeer priority=150",
                     "gatepeer: gratuitous ARP sent object=address change=\"announce 172.31.0.254 dev eth0\" state=MASTER",
                     "gatepeer: gratuitous ARP sent object=address change=\"announce 10.255.255.254 dev gp0\" state=MASTER",
                     "gatepeer: hook exited with status 0 object=hook change=\"\(hook.path) MASTER\" state=MASTER exit=0"] {
            XCTAssertTrue(master.stderr.contains(line), "no \(line) in\n\(master.stderr)")
        }
        let backup = ns.gatepeer("ha", "notify", "-c", cfg, "BACKUP")
        XCTAssertEqual(backup.status, 0, backup.stderr)
        XCTAssertEqual(try String(contentsOf: record, encoding: .utf8), "MASTER MASTER 172.31.0.254 eth0\nBACKUP BACKUP 172.31.0.254 eth0\n")
        XCTAssertEqual(Set(ns.addresses("eth0")), ["172.31.0.11/24", "172.31.0.254/24", "172.31.0.253/24"], "BACKUP took an address")
        XCTAssertEqual(ns.addresses("gp0"), ["10.255.255.254/9"])
        XCTAssertEqual(ns.gatepeer("ha", "notify", "-c", cfg, "PRIMARY").status, 2)
        XCTAssertEqual(ns.gatepeer("ha", "notify", "-c", cfg).status, 2)

        // A hook that outlives its timeout is killed and counted as failed (exit 1).
        try "#!/bin/sh\nsleep 30\n".write(to: hook, atomically: true, encoding: .utf8)
        chmod(hook.path, 0o755)
        let slow = ns.gatepeer("ha", "notify", "-c", cfg, "FAULT")
        XCTAssertEqual(slow.status, 1, slow.stderr)
        XCTAssertTrue(slow.stderr.contains("killed after 5 s object=hook"), slow.stderr)
    }

    /// The HA corpus files exit 2 on the new verbs too, and leave the kernel as it was.
    func testBadHAConfigsExitTwoAndTouchNothing() throws {
        let ns = try makeNode()
        let dir = packageRoot.appendingPathComponent("Tests/GatePeerCoreTests/InvalidConfigs")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("-ha-") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 8)
        let before = ns.snapshot()
        for f in files {
            let path = dir.appendingPathComponent(f).path
            for args in [["ha", "render"], ["ha", "render", "--conntrackd"], ["health"], ["ha", "notify", "MASTER"]] {
                let r = ns.exec([gatepeerBinary] + args + ["-c", path])
                XCTAssertEqual(r.status, 2, "\(args) \(f): \(r.stderr)")
                XCTAssertEqual(r.stdout, "")
            }
        }
        XCTAssertEqual(ns.snapshot(), before)
        // A config without an ha section: bad input for the ha verbs.
        let single = writeConfig(configJSON(linkJSON()))
        let r = ns.gatepeer("ha", "render", "-c", single)
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("has no ha section; ha render needs one"), r.stderr)
    }

    /// Help for the new verbs, and their options refused as every command's are.
    func testHelpAndOptions() {
        for (args, head) in [(["ha", "--help"], "usage: gatepeer ha render"), (["help", "ha"], "usage: gatepeer ha render"),
                             (["health", "--help"], "usage: gatepeer health"), (["ha", "notify", "-h"], "usage: gatepeer ha render")] {
            let r = sh([gatepeerBinary] + args)
            XCTAssertEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stdout.hasPrefix(head), "\(args): \(r.stdout)")
        }
        XCTAssertTrue(sh([gatepeerBinary, "--help"]).stdout.contains("  health     exit 0 when this node can carry its links now"))
        let cases: [([String], String)] = [
            (["ha", "render", "--bogus"], "unknown option \"--bogus\" for ha render; valid: -c/--config FILE, --conntrackd, -o/--output FILE, -h/--help"),
            (["ha"], "ha needs a subcommand; valid: render, notify"),
            (["health", "extra"], "health takes no argument \"extra\""),
            (["health", "--conntrackd"], "unknown option \"--conntrackd\" for health; valid: -c/--config FILE, -h/--help"),
            (["ha", "notify", "GROUP", "gatepeer"], "ha notify: takes 1, 3 or 4 arguments, got 2"),
        ]
        for (args, message) in cases {
            let r = sh([gatepeerBinary] + args)
            XCTAssertEqual(r.status, 2, "\(args)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout, "")
        }
    }

    /// The example cloud hooks are documented, not run: they must at least parse.
    func testCloudHookExamplesParse() throws {
        let dir = packageRoot.appendingPathComponent("netconfig/ha")
        let hooks = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sh") }.sorted()
        XCTAssertEqual(hooks, ["aws-move-ip.sh", "azure-move-ip.sh", "gcp-move-ip.sh"])
        for h in hooks {
            let r = sh(["bash", "-n", dir.appendingPathComponent(h).path])
            XCTAssertEqual(r.status, 0, "\(h): \(r.stderr)")
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent(h).path), "\(h) is not executable")
        }
    }
}
