import Foundation
import Glibc
import XCTest

/// A device's established TCP flow to the internet across a failover (issue 13 items 3
/// and 4), on the HA lab brought up the real way (`scripts/lab ha up`: gatepeer with the
/// node's config, keepalived with what `gatepeer ha render` wrote). Both nodes NAT the
/// devices' internet traffic to the floating address 192.0.2.9 (filter.nat "snat"),
/// which keepalived moves with the link to the master's uplink (inet bridges both uplinks
/// and holds 192.0.2.14/29). With conntrackd (`scripts/lab ha conntrackd`: FTFW over
/// unicast, rendered by `gatepeer ha render --conntrackd`, lock and socket in the node's
/// directory) the flow's conntrack entry is on peerb before the failure and `ha notify`
/// commits it on MASTER; without it peerb has no entry for the flow.
///
/// The flow: a socat server on inet 203.0.113.10:443 (allowed by lab-filter.json's
/// outbound rules) writes a numbered line every 20 ms; socat on dev1 writes what it
/// receives to a file. The failure is the master's underlay link going down (`ha link
/// peera down`): peera's keepalived goes FAULT and deletes every virtual address, the
/// SNAT address on its uplink included, and no tunnel packet reaches peera any more, so
/// only peerb can carry the flow afterwards (a crash or freeze of the daemons leaves the
/// addresses, the conntrack table and the forwarding in peera's kernel: the flow could
/// go on through peera until gratuitous ARPs land, which proves nothing about state).
final class HAFlowStateTests: HALabTestCase {
    override class var prefixStem: String { "ghf" }

    static let snat = "192.0.2.9"

    /// The jq filter ha up applies to NODE's config: lab-filter.json's filter with NAT to
    /// the floating address; with `conntrackd`, ha.conntrackd with every path in the
    /// node's directory, else no ha.conntrackd.
    func configJQ(_ n: String, conntrackd: Bool) throws -> String {
        let lab = try JSONSerialization.jsonObject(with: Data(contentsOf: packageRoot.appendingPathComponent("netconfig/lab-filter.json"))) as! [String: Any]
        var f = lab["filter"] as! [String: Any]
        f["nat"] = "snat"
        f["snatAddress"] = Self.snat
        let filter = String(decoding: try JSONSerialization.data(withJSONObject: f, options: [.sortedKeys]), as: UTF8.self)
        let d = directory(n)
        let ct = "{\"port\": 3780, \"configPath\": \"\(d)/conntrackd.conf\", \"lockFile\": \"\(d)/conntrackd.lock\", \"socketPath\": \"\(d)/conntrackd.ctl\"}"
        return ".filter = \(filter) | " + (conntrackd ? ".ha.conntrackd = \(ct)" : "del(.ha.conntrackd)")
    }

    /// peera as MASTER, then peerb as BACKUP, each with conntrackd when asked (started
    /// once the node's config exists; before the flow opens, so that it is synced).
    func startNodes(conntrackd: Bool) throws {
        for (n, want) in [("peera", "MASTER"), ("peerb", "BACKUP")] {
            let up = ha("up", n, gatepeerBinary, env: ["HA_CONFIG_JQ=\(try configJQ(n, conntrackd: conntrackd))"])
            XCTAssertEqual(up.status, 0, "ha up \(n): \(up.stderr)")
            XCTAssertTrue(eventually(20) { self.vrrpState(n) == want }, "\(n) never became \(want): \(vrrpState(n))")
            if conntrackd {
                let c = ha("conntrackd", n, gatepeerBinary)
                XCTAssertEqual(c.status, 0, "ha conntrackd \(n): \(c.stderr)")
            }
        }
    }

    /// Which end of the flow streams: inet's server to dev1 (a download; dev1 only ACKs)
    /// or dev1 to the server (an upload; the server only ACKs).
    enum Direction { case download, upload }

    /// The streaming flow: the server's log, the receiver's data file, the client's log.
    struct Stream {
        let server: Process, client: Process
        let data: URL, serverLog: URL, clientLog: URL
        var bytes: Int { ((try? FileManager.default.attributesOfItem(atPath: data.path))?[.size] as? Int) ?? 0 }
        func text(_ u: URL) -> String { (try? String(contentsOf: u, encoding: .utf8)) ?? "" }
    }

    func startStream(_ direction: Direction = .download) throws -> Stream {
        let base = NSTemporaryDirectory() + "gatepeer-flow-\(prefix)-\(UUID().uuidString.prefix(6))"
        let data = URL(fileURLWithPath: base + ".data"), serverLog = URL(fileURLWithPath: base + ".server.log"), clientLog = URL(fileURLWithPath: base + ".client.log")
        addTeardownBlock { for u in [data, serverLog, clientLog] { try? FileManager.default.removeItem(at: u) } }
        let script = URL(fileURLWithPath: base + ".sh")
        addTeardownBlock { try? FileManager.default.removeItem(at: script) }
        try "i=0\nwhile :; do i=$((i+1)); echo line $i; sleep 0.02; done\n".write(to: script, atomically: true, encoding: .utf8)
        let listen = "TCP-LISTEN:443,bind=203.0.113.10,reuseaddr", connect = "TCP:203.0.113.10:443,connect-timeout=2", exec = "EXEC:/bin/sh \(script.path)"
        let server = background("inet", direction == .download ? ["socat", "-d", "-d", listen, exec] : ["socat", "-d", "-d", "-u", listen, "CREATE:\(data.path)"], log: serverLog)
        var client: Process?
        // The server may not listen yet: a client that could not connect exits at once.
        XCTAssertTrue(eventually(10) {
            if client == nil || !client!.isRunning {
                client = self.background("dev1", direction == .download ? ["socat", "-d", "-d", "-u", connect, "CREATE:\(data.path)"] : ["socat", "-d", "-d", "-u", exec, connect], log: clientLog)
                usleep(300_000)
            }
            return FileManager.default.fileExists(atPath: data.path) && ((try? FileManager.default.attributesOfItem(atPath: data.path))?[.size] as? Int ?? 0) > 200
        }, "no stream (\(direction)) between dev1 and inet: \(String(describing: try? String(contentsOf: clientLog, encoding: .utf8)))")
        return Stream(server: server, client: client!, data: data, serverLog: serverLog, clientLog: clientLog)
    }

    /// dev1's local port of its established connection to 203.0.113.10:443, nil for none.
    func devicePort() -> Int? {
        let out = inNode("dev1", ["ss", "-tnH", "state", "established", "dst", "203.0.113.10:443"]).stdout
        guard let local = out.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first(where: { $0.hasPrefix("10.128.0.11:") }) else { return nil }
        return Int(local.split(separator: ":").last!)
    }

    /// NODE's kernel conntrack entry of the flow from dev1's `port`, translated to the
    /// floating address (/proc/net/nf_conntrack of the node's namespace), nil for none.
    func conntrackEntry(_ n: String, port: Int) -> String? {
        inNode(n, ["cat", "/proc/net/nf_conntrack"]).stdout.split(separator: "\n").map(String.init).first {
            $0.contains("src=10.128.0.11 dst=203.0.113.10 sport=\(port) dport=443 ") && $0.contains("src=203.0.113.10 dst=\(Self.snat) sport=443 dport=\(port) ")
        }
    }

    /// Whether inet has an established connection on 203.0.113.10:443.
    func serverConnected() -> Bool {
        !inNode("inet", ["ss", "-tnH", "state", "established", "src", "203.0.113.10:443"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
    }

    func uplink(_ n: String) -> String { inNode(n, ["ip", "-br", "addr", "show", "dev", "uplink"]).stdout }

    /// The standby does not hold the SNAT address and does not mind: its filter is loaded
    /// with the same snat rule, `gatepeer health` says healthy, and keepalived stayed
    /// BACKUP all along (its log names no other state).
    func assertStandbyCalm() {
        XCTAssertFalse(uplink("peerb").contains(Self.snat + "/"), "the standby holds no SNAT address: \(uplink("peerb"))")
        XCTAssertTrue(uplink("peera").contains(Self.snat + "/32"), "the master holds it: \(uplink("peera"))")
        let nft = inNode("peerb", ["nft", "list", "ruleset"]).stdout
        XCTAssertTrue(nft.contains("snat ip to \(Self.snat)"), "the standby's filter is loaded with the snat rule:\n\(nft)")
        let health = sh(["env", "GATEPEER_STATE_DIR=\(directory("peerb"))/gatepeer.state", "ip", "netns", "exec", node("peerb"),
                         gatepeerBinary, "health", "-c", directory("peerb") + "/gatepeer.json"])
        XCTAssertEqual(health.status, 0, "gatepeer health on the standby: \(health.stdout)\(health.stderr)")
        XCTAssertEqual(Set(vrrpStates("peerb")), ["BACKUP"], "peerb's keepalived went through only BACKUP: \(vrrpStates("peerb"))")
    }

    /// The master's eth0 goes down; returns the time peerb was seen MASTER with the SNAT
    /// address on its uplink (and peera without it).
    func failMaster() -> Double {
        XCTAssertEqual(ha("link", "peera", "down").status, 0)
        XCTAssertTrue(eventually(10) { self.vrrpState("peera") == "FAULT" }, "peera: \(vrrpState("peera"))")
        XCTAssertTrue(eventually(15) { self.vrrpState("peerb") == "MASTER" && self.uplink("peerb").contains(Self.snat + "/32") },
                      "peerb: \(vrrpState("peerb")), uplink \(uplink("peerb"))")
        XCTAssertFalse(uplink("peera").contains(Self.snat + "/"), "FAULT gave the SNAT address up: \(uplink("peera"))")
        return Date().timeIntervalSince1970
    }

    /// With conntrackd: conntrackd accepts the rendered file (it runs and answers on the
    /// socket the file names) and refuses a broken one; the flow's entry reaches peerb's
    /// external cache while peera is master, is in peerb's kernel table after the
    /// takeover (ha notify's commit), and the same connection carries data after it.
    func testFlowSurvivesTheFailoverWithConntrackd() throws {
        try startNodes(conntrackd: true)
        try assertConntrackdRefusesABrokenFile()
        let stream = try startStream()
        let port = try XCTUnwrap(devicePort(), "dev1 has no connection to 203.0.113.10:443")
        XCTAssertNotNil(conntrackEntry("peera", port: port), "peera NATs the flow to \(Self.snat)")
        let conf = directory("peerb") + "/conntrackd.conf"
        XCTAssertTrue(eventually(10) { self.inNode("peerb", ["conntrackd", "-C", conf, "-e"]).stdout.contains("sport=\(port) dport=443") },
                      "the flow never reached peerb's external cache: \(inNode("peerb", ["conntrackd", "-C", conf, "-e"]).stdout)")
        XCTAssertNil(conntrackEntry("peerb", port: port), "not in peerb's kernel table before the takeover")
        assertStandbyCalm()

        let failed = Date().timeIntervalSince1970, before = stream.bytes
        let master = failMaster()
        let atMaster = stream.bytes
        XCTAssertTrue(eventually(10) { self.conntrackEntry("peerb", port: port) != nil },
                      "ha notify committed no entry for the flow on peerb:\n\(inNode("peerb", ["cat", "/proc/net/nf_conntrack"]).stdout)\nnotify: \(notifyLines("peerb"))")
        XCTAssertTrue(eventually(30) { stream.bytes > atMaster + 500 },
                      "no data on the connection after the takeover (\(stream.bytes) bytes, \(atMaster) at MASTER); client: \(stream.text(stream.clientLog)) server: \(stream.text(stream.serverLog))")
        let resumed = Date().timeIntervalSince1970
        XCTAssertTrue(stream.client.isRunning, "the client's connection ended: \(stream.text(stream.clientLog))")
        XCTAssertEqual(devicePort(), port, "the same connection, from the same port")
        XCTAssertTrue(serverConnected(), "inet's connection ended: \(stream.text(stream.serverLog))")
        print("HAFlowState with conntrackd: peerb MASTER \(String(format: "%.2f", master - failed)) s after the link went down; \(atMaster - before) bytes between; data again on the same connection within \(String(format: "%.2f", resumed - master)) s of MASTER; entry on peerb: \(conntrackEntry("peerb", port: port) ?? "none")")
    }

    /// Without conntrackd peerb has no entry for the flow when it takes over; what the
    /// flow then does is measured and printed, and asserted as observed: the server's
    /// next (retransmitted) segment reaches peerb for 192.0.2.9, a local address with no
    /// socket and no translation, and peerb answers it with a RST, so inet's connection
    /// ends (its socat: "Broken pipe"); dev1, which only ACKs, hears nothing of it and
    /// stalls on a connection that stays ESTABLISHED with no data.
    func testFlowWithoutConntrackd() throws {
        try startNodes(conntrackd: false)
        let stream = try startStream()
        let port = try XCTUnwrap(devicePort(), "dev1 has no connection to 203.0.113.10:443")
        XCTAssertNotNil(conntrackEntry("peera", port: port))
        assertStandbyCalm()
        XCTAssertTrue(serverConnected(), "inet's connection is up before the failure")

        let failed = Date().timeIntervalSince1970
        let master = failMaster()
        let atMaster = stream.bytes
        XCTAssertNil(conntrackEntry("peerb", port: port), "no translation for the flow on peerb")
        // Watched for 20 s: long enough for the server's backed-off retransmissions.
        var grew = false, resetAt: Double?
        let deadline = master + 20
        while Date().timeIntervalSince1970 < deadline {
            if stream.bytes > atMaster + 500 { grew = true }
            if resetAt == nil, !serverConnected() { resetAt = Date().timeIntervalSince1970 }
            usleep(100_000)
        }
        let entry = conntrackEntry("peerb", port: port)
        print("HAFlowState without conntrackd: peerb MASTER \(String(format: "%.2f", master - failed)) s after the link went down; data after MASTER: \(grew) (\(stream.bytes - atMaster) bytes); server reset: \(resetAt.map { String(format: "%.2f s after MASTER", $0 - master) } ?? "no"); client running: \(stream.client.isRunning), dev1 port now \(devicePort().map(String.init) ?? "none"); entry on peerb: \(entry ?? "none")\nserver log: \(stream.text(stream.serverLog))\nclient log: \(stream.text(stream.clientLog))")
        XCTAssertFalse(grew, "the flow carried data after the takeover without conntrackd")
        XCTAssertNotNil(resetAt, "inet's connection did not end")
        XCTAssertEqual(devicePort(), port, "dev1 still believes in its connection (it sends nothing, so nothing resets it)")
    }

    /// Without conntrackd, a flow whose device sends first after the takeover survives:
    /// dev1's retransmitted segment reaches peerb, which has no entry for it;
    /// nf_conntrack_tcp_loose (1, the kernel's default) lets conntrack pick the flow up
    /// mid-stream as a new entry, the outbound rule allows it, and the SNAT rule maps it
    /// to 192.0.2.9 keeping dev1's source port (free on peerb), so inet sees the same
    /// four-tuple and the connection goes on. It needs the floating address (masquerade
    /// would change the source address) and the port still free on the new master; a
    /// flow where inet sends first is reset (testFlowWithoutConntrackd).
    func testUploadSurvivesWithoutConntrackdByLoosePickup() throws {
        try startNodes(conntrackd: false)
        XCTAssertEqual(inNode("peerb", ["cat", "/proc/sys/net/netfilter/nf_conntrack_tcp_loose"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines), "1")
        let stream = try startStream(.upload)
        let port = try XCTUnwrap(devicePort(), "dev1 has no connection to 203.0.113.10:443")
        assertStandbyCalm()

        let failed = Date().timeIntervalSince1970
        let master = failMaster()
        let atMaster = stream.bytes
        XCTAssertTrue(eventually(30) { stream.bytes > atMaster + 500 },
                      "inet received nothing after the takeover (\(stream.bytes) bytes, \(atMaster) at MASTER); server: \(stream.text(stream.serverLog))")
        let resumed = Date().timeIntervalSince1970
        XCTAssertTrue(serverConnected(), "inet's connection ended: \(stream.text(stream.serverLog))")
        XCTAssertEqual(devicePort(), port, "the same connection, from the same port")
        let entry = conntrackEntry("peerb", port: port)
        XCTAssertNotNil(entry, "peerb translates the picked-up flow to \(Self.snat) with dev1's port")
        print("HAFlowState upload without conntrackd: peerb MASTER \(String(format: "%.2f", master - failed)) s after the link went down; inet received data again on the same connection within \(String(format: "%.2f", resumed - master)) s of MASTER; entry on peerb (picked up): \(entry ?? "none")")
    }

    /// `gatepeer validate` and `gatepeer ha render` note on stderr that masquerade NATed
    /// flows die in a failover, naming the fields to set; with the floating SNAT address
    /// they note nothing, and the rendered keepalived.conf moves it.
    func testMasqueradeIsNotedAndSnatMoves() throws {
        let d = directory("peera")
        try FileManager.default.createDirectory(atPath: d + "/gatepeer.state", withIntermediateDirectories: true)
        for (nat, jq) in [("masquerade", try configJQ("peera", conntrackd: false) + " | .filter.nat = \"masquerade\" | del(.filter.snatAddress)"),
                          ("snat", try configJQ("peera", conntrackd: false))] {
            let c = ha("config", "peera", env: ["HA_CONFIG_JQ=\(jq)"])
            XCTAssertEqual(c.status, 0, c.stderr)
            let file = d + "/\(nat).json"
            try c.stdout.write(toFile: file, atomically: true, encoding: .utf8)
            for args in [["validate", "-c", file], ["ha", "render", "-c", file]] {
                let r = sh(["env", "GATEPEER_STATE_DIR=\(d)/gatepeer.state", "ip", "netns", "exec", node("peera"), gatepeerBinary] + args)
                XCTAssertEqual(r.status, 0, "\(nat) \(args): \(r.stderr)")
                let noted = r.stderr.contains("note: filter.nat is \"masquerade\"") && r.stderr.contains("set filter.nat to \"snat\" and filter.snatAddress")
                XCTAssertEqual(noted, nat == "masquerade", "\(nat) \(args): \(r.stderr)")
                if args[0] == "ha" {
                    XCTAssertEqual(r.stdout.contains("        \(Self.snat)/32 dev uplink\n"), nat == "snat", r.stdout)
                }
            }
        }
    }

    /// conntrackd refuses a file with a syntax error (the acceptance check above can
    /// fail): the rendered file with `Mode FTFWX`, its lock and socket moved so that only
    /// the syntax error can stop it, run in peerb's namespace; a conntrackd that accepted
    /// it would run on until `timeout` kills it (exit 137).
    func assertConntrackdRefusesABrokenFile() throws {
        let d = directory("peerb")
        let text = try String(contentsOfFile: d + "/conntrackd.conf", encoding: .utf8)
        let bad = text.replacingOccurrences(of: "Mode FTFW {", with: "Mode FTFWX {")
            .replacingOccurrences(of: "\(d)/conntrackd.lock", with: "\(d)/bad.lock")
            .replacingOccurrences(of: "\(d)/conntrackd.ctl", with: "\(d)/bad.ctl")
        XCTAssertNotEqual(bad, text)
        try bad.write(toFile: d + "/bad.conf", atomically: true, encoding: .utf8)
        let r = inNode("peerb", ["timeout", "-s", "KILL", "10", "conntrackd", "-C", d + "/bad.conf"])
        print("HAFlowState: conntrackd -C bad.conf: exit \(r.status) \(r.stdout)\(r.stderr)")
        XCTAssertNotEqual(r.status, 0, "conntrackd accepted a file with a syntax error")
        XCTAssertNotEqual(r.status, 137, "conntrackd ran on a file with a syntax error")
        // Refused for the syntax error, not for anything else (a port the running one holds).
        XCTAssertTrue((r.stdout + r.stderr).contains("'FTFWX': syntax error"), "conntrackd's reason: \(r.stdout)\(r.stderr)")
    }

    /// The last 20 lines of keepalived's log about notify and conntrackd (for messages).
    func notifyLines(_ n: String) -> String {
        keepalivedLog(n).filter { $0.contains("conntrackd") || $0.contains("notify") }.suffix(20).joined(separator: "\n")
    }
}
