import Foundation
import XCTest

/// A container with a real systemd as PID 1, booted by scripts/lib/systemd-lab.sh from
/// a cached Debian bookworm root, with the shipped unit and the binary under test bound
/// in at the unit's paths. Its network namespace is its own (nspawn --private-network):
/// every link a test makes there dies with the container. Stopped (poweroff, then the
/// nspawn PID killed if it lingers) by `down`, which the test's teardown always calls.
final class SystemdLab {
    static let script = packageRoot.appendingPathComponent("scripts/lib/systemd-lab.sh").path
    let name: String

    /// Boots it and waits until systemd says running or degraded (bounded in the script).
    init() throws {
        name = "gpt-sd-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        let r = Self.lab(["up", name])
        // Not a skip: this machine boots one (FIELD.md), so a failure here is a failure.
        guard r.status == 0 else {
            down()
            throw LabError(message: "cannot boot a systemd container \(name): \(r.stderr)")
        }
    }

    private static func lab(_ args: [String], stdin: String? = nil) -> Run {
        sh(["env", "SYSTEMD_LAB_BIN=\(gatepeerBinary)", "bash", script] + args, stdin: stdin)
    }

    struct LabError: Error, CustomStringConvertible { let message: String; var description: String { message } }

    func down() { Self.lab(["down", name]) }

    /// A command inside the container (its files, its systemd, its network).
    @discardableResult
    func exec(_ args: [String], stdin: String? = nil) -> Run { Self.lab(["exec", name] + args, stdin: stdin) }
    @discardableResult
    func exec(_ args: String..., stdin: String? = nil) -> Run { exec(args, stdin: stdin) }

    /// A host command (ip, nft, ss) in the container's network namespace.
    @discardableResult
    func net(_ args: [String]) -> Run { Self.lab(["net", name] + args) }
    @discardableResult
    func net(_ args: String...) -> Run { net(args) }

    /// `systemctl show` properties of a unit, by name.
    func show(_ unit: String, _ properties: [String]) -> [String: String] {
        let r = exec("systemctl", "show", unit, "-p", properties.joined(separator: ","))
        var out: [String: String] = [:]
        for line in r.stdout.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            out[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return out
    }

    /// The journal of `unit` since boot (systemd's own lines about it included).
    func journal(_ unit: String) -> String { Self.lab(["journal", name, unit]).stdout }

    /// `journalctl -u unit -p priority`: the unit's lines at `priority` ("warning") or
    /// more severe, message text only.
    func journal(_ unit: String, priority: String) -> String {
        exec("journalctl", "--no-pager", "-q", "-b", "-o", "cat", "-u", unit, "-p", priority).stdout
    }

    /// `ip -j -d link show` in the container's namespace, the link named `dev`.
    func link(_ dev: String) -> [String: Any]? {
        let r = net("ip", "-j", "-d", "link", "show")
        let links = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [[String: Any]] ?? []
        return links.first { $0["ifname"] as? String == dev }
    }
}

/// The shipped unit (netconfig/systemd/gatepeer.service, unchanged) started by a real
/// systemd the way a peer VM starts it. Guards issue 9 item 10: the unit's syscall
/// filter killed the daemon with SIGSYS (libdispatch's setpriority) while `Type=simple`
/// reported every start as a success and `Restart=` looped every RestartSec.
final class SystemdUnitTests: KernelTestCase {
    /// The lab-filter shape with the underlay inside the container: eth0 (a veth whose
    /// peer is in the same namespace) and an uplink; the DNS forwarder on, so the daemon
    /// binds port 53 on the inner address as it does in the field.
    static func config(mtu: Int = 1450) -> String {
        """
        {
          "forwarding": true,
          "links": [{
            "name": "gp0", "vxlanId": 10, "port": 4789, "mtu": \(mtu),
            "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254",
            "innerIpAddress": "10.255.255.254/9",
            "peers": [{ "outerIpAddress": "172.31.0.1", "innerIpAddress": "10.255.255.1" }],
            "routes": [{ "destination": "192.168.10.0/24", "via": "10.129.3.7" }]
          }],
          "filter": {
            "uplinkDevice": "uplink", "nat": "masquerade", "backendPrefixes": ["172.31.0.0/24"],
            "resolvers": ["172.31.0.1"], "dnsForwarder": true,
            "outbound": [{ "name": "fleet", "default": "deny", "rules": [
              { "action": "allow", "destination": "203.0.113.10/32", "protocol": "tcp", "ports": [443] }] }]
          }
        }
        """
    }

    /// A booted container with the underlay and uplink devices made in its namespace
    /// and `text` at /etc/gatepeer/gatepeer.json. Stopped in teardown, also on failure.
    func bootLab(config text: String) throws -> SystemdLab {
        let lab = try SystemdLab()
        addTeardownBlock { lab.down() }
        for cmd in [["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"],
                    ["ip", "addr", "add", "172.31.0.254/24", "dev", "eth0"],
                    ["ip", "link", "set", "eth0", "up"], ["ip", "link", "set", "eth1", "up"],
                    ["ip", "link", "add", "uplink", "type", "veth", "peer", "name", "uplink-p"],
                    ["ip", "link", "set", "uplink", "up"], ["ip", "link", "set", "uplink-p", "up"]] {
            let r = lab.net(cmd)
            XCTAssertEqual(r.status, 0, "\(cmd.joined(separator: " ")) in \(lab.name): \(r.stderr)")
        }
        write(lab, text)
        // The unit under test is the shipped file, bound in read-only, byte for byte.
        let shipped = try String(contentsOf: packageRoot.appendingPathComponent("netconfig/systemd/gatepeer.service"), encoding: .utf8)
        XCTAssertEqual(lab.exec("cat", "/etc/systemd/system/gatepeer.service").stdout, shipped)
        return lab
    }

    func write(_ lab: SystemdLab, _ text: String) {
        let r = lab.exec("sh", "-c", "mkdir -p /etc/gatepeer && cat > /etc/gatepeer/gatepeer.json", stdin: text)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// RestartSec= as systemd read it from the unit, in seconds.
    func restartSeconds(_ lab: SystemdLab) -> Double {
        let usec = lab.show("gatepeer", ["RestartUSec"])["RestartUSec"] ?? ""
        // systemd prints a timespan ("5s", "100ms", "1min 30s"); the unit uses whole seconds.
        if usec.hasSuffix("s"), !usec.hasSuffix("ms"), let n = Double(usec.dropLast()) { return n }
        XCTFail("unexpected RestartUSec '\(usec)'")
        return 5
    }

    /// Fails for each sign in the journal that the daemon was killed, ran into its sandbox
    /// (a blocked call, a missing capability, a read-only path) or did not apply.
    func assertCleanJournal(_ journal: String, file: StaticString = #filePath, line: UInt = #line) {
        for bad in ["status=31/SYS", "signal=SYS", "SIGSYS", "Failed to set thread priority",
                    "Operation not permitted", "Permission denied", "Read-only file system",
                    "reconcile failed", "failed:", "blocked:", "not started"] {
            XCTAssertFalse(journal.contains(bad), "journal has '\(bad)':\n\(journal)", file: file, line: line)
        }
    }

    func testShippedUnitStaysActiveAppliesAndReloads() throws {
        let lab = try bootLab(config: Self.config())
        XCTAssertEqual(lab.exec("systemctl", "start", "gatepeer").status, 0, lab.journal("gatepeer"))

        // Applied: the vxlan device with our alias, in the container's namespace. A
        // restart or a failed unit ends the wait early: that start has already failed.
        let props = ["ActiveState", "SubState", "MainPID", "NRestarts", "Result"]
        var s: [String: String] = [:]
        let applied = eventually(120) {
            s = lab.show("gatepeer", props)
            if s["NRestarts"] != "0" || s["ActiveState"] == "failed" { return true }
            return lab.link("gp0")?["ifalias"] as? String == "gatepeer:gp0"
        }
        XCTAssertTrue(applied, "gp0 never appeared; unit \(s)\n\(lab.journal("gatepeer"))")
        let gp0 = try XCTUnwrap(lab.link("gp0"), "the daemon applied nothing; unit \(s)\n\(lab.journal("gatepeer"))")
        XCTAssertEqual(gp0["ifalias"] as? String, "gatepeer:gp0")
        let info = (gp0["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any]
        XCTAssertEqual((gp0["linkinfo"] as? [String: Any])?["info_kind"] as? String, "vxlan")
        XCTAssertEqual(info?["id"] as? Int, 10)
        XCTAssertEqual(gp0["mtu"] as? Int, 1450)
        // Sysctls it owns, written through the unit's one writable part of /proc/sys.
        XCTAssertEqual(lab.net("cat", "/proc/sys/net/ipv4/ip_forward").stdout, "1\n")
        XCTAssertEqual(lab.net("cat", "/proc/sys/net/ipv4/conf/gp0/rp_filter").stdout, "2\n")

        // Stays up over more than two RestartSec periods: same main process, no restart.
        let mainPID = lab.show("gatepeer", ["MainPID"])["MainPID"] ?? ""
        XCTAssertNotEqual(mainPID, "0")
        let until = Date().addingTimeInterval(2 * restartSeconds(lab) + 2)
        while Date() < until {
            s = lab.show("gatepeer", props)
            guard s["ActiveState"] == "active", s["SubState"] == "running", s["MainPID"] == mainPID, s["NRestarts"] == "0" else {
                XCTFail("unit left active (running): \(s)\n\(lab.journal("gatepeer"))")
                break
            }
            Thread.sleep(forTimeInterval: 0.5)
        }

        // What the hardening must leave it: the forwarder's port 53 on the inner address,
        // the filter table, its state directory and files, and the runtime directory it
        // shares with the CLI.
        XCTAssertTrue(eventually(30) { lab.net("ss", "-Hlunp", "sport", "= :53").stdout.contains("10.255.255.254:53") },
                      "no DNS forwarder on 10.255.255.254:53\n\(lab.journal("gatepeer"))")
        XCTAssertTrue(lab.net("ss", "-Hlunp", "sport", "= :53").stdout.contains("\"gatepeer\""))
        let tcp = lab.net("ss", "-Hltnp", "sport", "= :53").stdout
        XCTAssertTrue(tcp.contains("10.255.255.254:53") && tcp.contains("\"gatepeer\""), "no DNS forwarder on TCP: \(tcp)")
        XCTAssertEqual(lab.net("nft", "list", "table", "inet", "gatepeer").status, 0, "no filter table")
        XCTAssertEqual(lab.exec("stat", "-c", "%a %U", "/var/lib/gatepeer").stdout, "700 root\n")
        // The filter's map cache, written by the daemon at its first load.
        XCTAssertEqual(lab.exec("stat", "-c", "%a", "/var/lib/gatepeer/filter-maps.bin").stdout, "600\n")
        XCTAssertEqual(lab.exec("stat", "-c", "%a %U", "/run/gatepeer").stdout, "700 root\n")

        // Reload re-reads the config in the same process and the kernel follows.
        write(lab, Self.config(mtu: 1400))
        let reload = lab.exec("systemctl", "reload", "gatepeer")
        XCTAssertEqual(reload.status, 0, reload.stderr)
        XCTAssertTrue(eventually(60) { lab.link("gp0")?["mtu"] as? Int == 1400 },
                      "reload did not reach the kernel\n\(lab.journal("gatepeer"))")
        s = lab.show("gatepeer", props)
        XCTAssertEqual(s["ActiveState"], "active")
        XCTAssertEqual(s["SubState"], "running")
        XCTAssertEqual(s["MainPID"], mainPID, "reload restarted the daemon")
        XCTAssertEqual(s["NRestarts"], "0")

        let journal = lab.journal("gatepeer")
        XCTAssertTrue(journal.contains("reloaded /etc/gatepeer/gatepeer.json"), journal)
        assertCleanJournal(journal)

        // Stopping leaves the kernel as it is, and the lock directory for the CLI.
        XCTAssertEqual(lab.exec("systemctl", "stop", "gatepeer").status, 0)
        XCTAssertEqual(lab.show("gatepeer", ["ActiveState"])["ActiveState"], "inactive")
        XCTAssertEqual(lab.link("gp0")?["ifalias"] as? String, "gatepeer:gp0")
        XCTAssertEqual(lab.exec("stat", "-c", "%a", "/run/gatepeer").stdout, "700\n")
    }

    func testBadConfigFailsOnceAndIsNotRetried() throws {
        // Valid JSON, invalid config: `run` exits 2 and must not be restarted.
        let lab = try bootLab(config: #"{"links": [{"name": 5}]}"#)
        lab.exec("systemctl", "start", "gatepeer")
        let props = ["ActiveState", "SubState", "NRestarts", "Result", "ExecMainStatus"]
        var s: [String: String] = [:]
        XCTAssertTrue(eventually(120) {
            s = lab.show("gatepeer", props)
            return s["ActiveState"] == "failed" || s["NRestarts"] != "0"
        }, "unit never settled: \(s)")
        // Watched over more than two RestartSec periods: still failed, never restarted.
        let until = Date().addingTimeInterval(2 * restartSeconds(lab) + 2)
        while Date() < until {
            s = lab.show("gatepeer", props)
            guard s["ActiveState"] == "failed", s["NRestarts"] == "0" else {
                XCTFail("a bad config was retried: \(s)\n\(lab.journal("gatepeer"))")
                break
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        XCTAssertEqual(s["Result"], "exit-code")
        XCTAssertEqual(s["ExecMainStatus"], "2")
        let journal = lab.journal("gatepeer")
        XCTAssertTrue(journal.contains("links[0].name: is a number"), "the journal names the field:\n\(journal)")
        // At error priority (Console.error's <3> when stderr is the journal).
        let errors = lab.journal("gatepeer", priority: "err")
        XCTAssertTrue(errors.contains("links[0].name: is a number"), "journalctl -p err:\n\(errors)")
        XCTAssertNil(lab.link("gp0"), "a bad config touched the kernel")
    }

    /// The unit's state as the tests read it.
    static let watched = ["ActiveState", "SubState", "StatusText", "NRestarts", "MainPID", "Result"]

    /// The routes the kernel holds for `prefix` in the container (ip -j route show).
    func routes(_ lab: SystemdLab, _ prefix: String) -> [[String: Any]] {
        let r = lab.net("ip", "-j", "route", "show", prefix)
        return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [[String: Any]] ?? []
    }

    /// Issue 12 item 3, on the shipped unit: Type=notify (start returns once the kernel
    /// holds the config, STATUS= is the line a person reads), a reload that validates
    /// first (a bad file fails the reload, the old config keeps serving), a restart after
    /// SIGKILL (READY again), and a stop that leaves the data plane up. Item 4: the
    /// journal's priorities reach journald (`journalctl -p warning` filters them).
    func testNotifyReadyStatusReloadRestartAndStop() throws {
        let lab = try bootLab(config: Self.config())
        // The hardening score of the shipped unit, by the container's own systemd 252.
        let security = lab.exec("systemd-analyze", "security", "--offline=yes", "--no-pager", "/etc/systemd/system/gatepeer.service")
        let level = security.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") }
        let exposure = level.flatMap { l in l.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) } }
        XCTAssertNotNil(exposure, "no exposure level from systemd-analyze: \(security.stdout.suffix(300)) \(security.stderr)")
        XCTAssertLessThanOrEqual(exposure ?? 99, 2.5, String(level ?? ""))

        // Type=notify: `systemctl start` returns at READY=1, after the first converge, so
        // the kernel already holds the config when it does.
        let start = lab.exec("systemctl", "start", "gatepeer")
        XCTAssertEqual(start.status, 0, start.stderr + lab.journal("gatepeer"))
        var s = lab.show("gatepeer", Self.watched)
        XCTAssertEqual(lab.link("gp0")?["ifalias"] as? String, "gatepeer:gp0", "active before the first converge: \(s)")
        XCTAssertEqual(s["ActiveState"], "active")
        XCTAssertEqual(s["SubState"], "running")
        // Nothing answers the VPG gate peer's probes here: probing at READY, down later.
        XCTAssertEqual(s["StatusText"], "1 link, 0/1 peers up, 1 probing, filter loaded, no repairs", "\(s)\n\(lab.journal("gatepeer"))")
        XCTAssertTrue(eventually(60) { lab.show("gatepeer", ["StatusText"])["StatusText"] == "1 link, 0/1 peers up, 1 down, filter loaded, no repairs" },
                      "the status line does not follow the peer: \(lab.show("gatepeer", Self.watched))")
        let firstPID = s["MainPID"] ?? "0"
        XCTAssertNotEqual(firstPID, "0")
        XCTAssertEqual(lab.show("gatepeer", ["Type", "NotifyAccess"]), ["Type": "notify", "NotifyAccess": "main"])
        // CAP_NET_RAW (13) for the liveness probes' raw ICMP socket, in the daemon's
        // effective set, next to CAP_NET_ADMIN (12); nothing else it was not given.
        let capEff = lab.exec("awk", "/^CapEff:/ { print $2 }", "/proc/\(firstPID)/status").stdout
        let caps = UInt64(capEff.trimmingCharacters(in: .whitespacesAndNewlines), radix: 16)
        XCTAssertEqual(caps, 1 << 10 | 1 << 12 | 1 << 13 | 1 << 23, "CapEff \(capEff): want NET_BIND_SERVICE, NET_ADMIN, NET_RAW, SYS_NICE")

        // A good reload: taken by the same process, and the kernel follows.
        write(lab, Self.config(mtu: 1400))
        let good = lab.exec("systemctl", "reload", "gatepeer")
        XCTAssertEqual(good.status, 0, good.stderr + lab.journal("gatepeer"))
        XCTAssertTrue(eventually(60) { lab.link("gp0")?["mtu"] as? Int == 1400 }, "reload did not reach the kernel\n\(lab.journal("gatepeer"))")
        s = lab.show("gatepeer", Self.watched)
        XCTAssertEqual(s["ActiveState"], "active")
        XCTAssertEqual(s["MainPID"], firstPID, "a reload restarted the daemon")

        // A bad file: the reload is reported as failed, the old config keeps serving. It
        // holds a key pasted where its file belongs: named in the journal, never shown.
        let secret = "0sSup3rS3cretPSKvalue"
        write(lab, #"{"links": [{"name": 5}], "ipsec": {"sites": [{"name": "hq", "psk": {"file": "\#(secret)"}}]}}"#)
        let bad = lab.exec("systemctl", "reload", "gatepeer")
        XCTAssertNotEqual(bad.status, 0, "systemctl reload of a bad config succeeded\n\(lab.journal("gatepeer"))")
        s = lab.show("gatepeer", Self.watched)
        XCTAssertEqual(s["ActiveState"], "active", "\(s)")
        XCTAssertEqual(s["MainPID"], firstPID)
        XCTAssertEqual(lab.link("gp0")?["mtu"] as? Int, 1400, "the kernel changed after a refused reload")
        XCTAssertEqual(routes(lab, "192.168.10.0/24").first?["gateway"] as? String, "10.129.3.7")
        // The same file sent straight to the daemon (the race ExecReload's check cannot
        // close: the file changed after it): refused there too, and the status says so.
        XCTAssertEqual(lab.exec("systemctl", "kill", "-s", "HUP", "--kill-who=main", "gatepeer").status, 0)
        XCTAssertTrue(eventually(30) { lab.show("gatepeer", ["StatusText"])["StatusText"]?.contains("last reload refused") == true },
                      "\(lab.show("gatepeer", Self.watched))\n\(lab.journal("gatepeer"))")
        XCTAssertEqual(lab.show("gatepeer", ["ActiveState"])["ActiveState"], "active")
        XCTAssertEqual(lab.link("gp0")?["mtu"] as? Int, 1400)

        // Priorities reach journald: the refusal is an error, the good reload is info.
        let warnings = lab.journal("gatepeer", priority: "warning")
        XCTAssertTrue(warnings.contains("reload refused"), "journalctl -p warning:\n\(warnings)")
        XCTAssertFalse(warnings.contains("reloaded /etc/gatepeer/gatepeer.json"), "an info line at warning:\n\(warnings)")
        XCTAssertTrue(lab.journal("gatepeer", priority: "info").contains("reloaded /etc/gatepeer/gatepeer.json"))
        // ExecReload's check and the daemon both reported the file, at error priority.
        let errors = lab.journal("gatepeer", priority: "err")
        XCTAssertTrue(errors.contains("ipsec.sites[0].psk.file: is not an absolute path"), "journalctl -p err:\n\(errors)")
        XCTAssertFalse(lab.exec("journalctl", "--no-pager", "-b", "-o", "verbose").stdout.contains("Sup3rS3cret"), "a key reached the journal")

        // Drift repaired: the status line says how long ago.
        XCTAssertEqual(lab.net("ip", "route", "del", "192.168.10.0/24").status, 0)
        XCTAssertTrue(eventually(60) { routes(lab, "192.168.10.0/24").first?["gateway"] as? String == "10.129.3.7" }, lab.journal("gatepeer"))
        XCTAssertTrue(eventually(10) {
            lab.show("gatepeer", ["StatusText"])["StatusText"]?.range(of: #", last repair [0-9]+s ago; last reload refused"#, options: .regularExpression) != nil
        }, "\(lab.show("gatepeer", Self.watched))")

        // SIGKILL: systemd restarts it (with the good file back) and it is READY again.
        write(lab, Self.config(mtu: 1400))
        XCTAssertEqual(lab.exec("kill", "-KILL", firstPID).status, 0)
        XCTAssertTrue(eventually(90) {
            s = lab.show("gatepeer", Self.watched)
            return s["NRestarts"] == "1" && s["ActiveState"] == "active" && s["MainPID"] != firstPID && s["MainPID"] != "0"
        }, "not restarted after SIGKILL: \(s)\n\(lab.journal("gatepeer"))")
        XCTAssertTrue(["1 link, 0/1 peers up, 1 probing, filter loaded, no repairs", "1 link, 0/1 peers up, 1 down, filter loaded, no repairs"]
                        .contains(s["StatusText"] ?? ""), "\(s)")

        // Stop: the unit goes, the data plane stays (device, route, filter table).
        XCTAssertEqual(lab.exec("systemctl", "stop", "gatepeer").status, 0)
        XCTAssertEqual(lab.show("gatepeer", ["ActiveState"])["ActiveState"], "inactive")
        XCTAssertEqual(lab.link("gp0")?["ifalias"] as? String, "gatepeer:gp0")
        XCTAssertEqual(lab.link("gp0")?["mtu"] as? Int, 1400)
        XCTAssertEqual(routes(lab, "192.168.10.0/24").first?["gateway"] as? String, "10.129.3.7")
        XCTAssertEqual(lab.net("nft", "list", "table", "inet", "gatepeer").status, 0, "stop took the filter table")
        assertCleanJournal(lab.journal("gatepeer").replacingOccurrences(of: "Main process exited, code=killed, status=9/KILL", with: ""))
    }

    /// READY=1 also after a first converge that could not apply (a clear failure, not a
    /// start that hangs until TimeoutStartSec= and is restarted): the unit is active and
    /// its status names the blocker; a reload that removes it converges.
    func testReadyWithTheBlockerInTheStatus() throws {
        let lab = try bootLab(config: Self.config().replacingOccurrences(of: "\"underlayDevice\": \"eth0\"", with: "\"underlayDevice\": \"eth9\""))
        let start = lab.exec("systemctl", "start", "gatepeer")
        XCTAssertEqual(start.status, 0, start.stderr + lab.journal("gatepeer"))
        var s = lab.show("gatepeer", Self.watched)
        XCTAssertEqual(s["ActiveState"], "active", "\(s)")
        XCTAssertEqual(s["NRestarts"], "0")
        XCTAssertTrue(s["StatusText"]?.hasPrefix("1 link, 0/1 peers up, 1 probing, not converged: blocked: links[0].underlayDevice: device eth9 does not exist") == true,
                      "\(s)\n\(lab.journal("gatepeer"))")
        XCTAssertNil(lab.link("gp0"), "a blocked link was made")
        XCTAssertTrue(lab.journal("gatepeer", priority: "warning").contains("blocked: links[0].underlayDevice"))
        // The fixed file, reloaded: converged, and the status says so.
        write(lab, Self.config())
        XCTAssertEqual(lab.exec("systemctl", "reload", "gatepeer").status, 0)
        XCTAssertTrue(eventually(60) { lab.link("gp0")?["ifalias"] as? String == "gatepeer:gp0" }, lab.journal("gatepeer"))
        XCTAssertTrue(eventually(30) {
            s = lab.show("gatepeer", Self.watched)
            return s["StatusText"]?.contains("filter loaded, no repairs") == true
        }, "\(s)")
        XCTAssertEqual(s["NRestarts"], "0")
    }

    /// WATCHDOG=1 comes from a timer on the daemon's state queue: while it runs, systemd
    /// never fires the watchdog; once the process stops (SIGSTOP, as a wedged queue
    /// would), systemd kills and restarts it. A short WatchdogSec= in a drop-in.
    func testWatchdogRestartsAStoppedDaemon() throws {
        let lab = try bootLab(config: Self.config())
        let dropIn = lab.exec("sh", "-c", "mkdir -p /etc/systemd/system/gatepeer.service.d && printf '[Service]\\nWatchdogSec=3s\\n' > /etc/systemd/system/gatepeer.service.d/watchdog.conf && systemctl daemon-reload")
        XCTAssertEqual(dropIn.status, 0, dropIn.stderr)
        XCTAssertEqual(lab.exec("systemctl", "start", "gatepeer").status, 0, lab.journal("gatepeer"))
        // systemd shows the watchdog it armed only while the unit runs.
        XCTAssertEqual(lab.show("gatepeer", ["WatchdogUSec"])["WatchdogUSec"], "3s")
        var s = lab.show("gatepeer", Self.watched)
        let pid = s["MainPID"] ?? "0"
        XCTAssertNotEqual(pid, "0")
        // Three watchdog periods: pinged, so no restart.
        let until = Date().addingTimeInterval(9)
        while Date() < until {
            s = lab.show("gatepeer", Self.watched)
            guard s["ActiveState"] == "active", s["MainPID"] == pid, s["NRestarts"] == "0" else {
                XCTFail("the watchdog fired on a running daemon: \(s)\n\(lab.journal("gatepeer"))")
                return
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        XCTAssertEqual(lab.exec("kill", "-STOP", pid).status, 0)
        XCTAssertTrue(eventually(120) {
            s = lab.show("gatepeer", Self.watched)
            return s["NRestarts"] == "1" && s["ActiveState"] == "active" && s["MainPID"] != pid && s["MainPID"] != "0"
        }, "not restarted by the watchdog: \(s)\n\(lab.journal("gatepeer"))")
        XCTAssertTrue(lab.journal("gatepeer").contains("Watchdog timeout"), lab.journal("gatepeer"))
    }
}
