import Foundation
import GatePeerCore
import XCTest

/// `gatepeer run` in the lab: drift repair, SIGHUP reload, and domain rules resolved
/// against a real DNS server (dnsmasq) whose answers and TTLs change.
final class DaemonLabTests: LabTestCase {
    func daemon(_ config: String, state: URL, resync: Int = 1) -> (Process, URL) {
        let log = state.deletingLastPathComponent().appendingPathComponent(state.lastPathComponent + ".log")
        addTeardownBlock { try? FileManager.default.removeItem(at: log) }
        let p = background("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary, "run", "-c", config, "--resync", "\(resync)"], log: log)
        return (p, log)
    }

    /// dnsmasq on the lab's DNS address (or `address`, one of the internet node's), answering
    /// from `hosts` with TTL `ttl` seconds.
    @discardableResult
    func startDNS(_ hosts: URL, ttl: Int = 3, _ extra: [String] = [], at address: String = "203.0.113.53") -> Process {
        let p = background("inet", ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                                    "--listen-address=\(address)", "--bind-interfaces", "--addn-hosts=\(hosts.path)",
                                    "--local-ttl=\(ttl)", "--pid-file=", "--user=root"] + extra)
        // Answering before the daemon's first lookup, which would otherwise back off.
        XCTAssertTrue(eventually(10) {
            self.inNode("inet", ["dig", "+time=1", "+tries=1", "@\(address)", "ready.example.com"]).status == 0
        }, "dnsmasq never answered")
        return p
    }

    /// lab-filter.json with the given outbound rules, resolvers and a short slack.
    func domainConfig(_ rules: [[String: Any]], _ extra: [String: Any] = [:]) throws -> String {
        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: packageRoot.appendingPathComponent("netconfig/lab-filter.json"))) as? [String: Any])
        var filter = doc["filter"] as! [String: Any]
        filter["resolvers"] = ["203.0.113.53"]
        filter["domainSlackSeconds"] = 8
        filter["outbound"] = [["name": "fleet", "default": "deny", "rules": rules]]
        filter.merge(extra) { $1 }
        doc["filter"] = filter
        return writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
    }

    func tcp443(_ node: String, _ host: String) -> Bool { tcp(from: node, host, 443).status == 0 }

    func testWildcardRulesLearnFromLookupsThroughTheForwarder() throws {
        let hosts = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-hosts-\(prefix)")
        addTeardownBlock { try? FileManager.default.removeItem(at: hosts) }
        try "198.51.100.20 cdn.example.com\n203.0.113.10 deep.sub.example.com\n203.0.113.10 echo.example.net\n198.51.100.20 all.example.org\n"
            .write(to: hosts, atomically: true, encoding: .utf8)
        startDNS(hosts)
        background("inet", ["socat", "TCP-LISTEN:443,fork,reuseaddr", "SYSTEM:read -r _; echo ok"])
        // One rule per learned-map shape: address . protocol . port (an interval map),
        // address . protocol, and address alone (hash maps).
        let cfg = try domainConfig([["action": "allow", "domain": "*.example.com", "protocol": "tcp", "ports": [443]],
                                    ["action": "allow", "domain": "*.example.net", "protocol": "icmp"],
                                    ["action": "allow", "domain": "*.example.org"]])
        let (_, log) = daemon(cfg, state: stateDir(), resync: 2)
        XCTAssertTrue(eventually(10) { self.ping(from: "backend", "10.128.0.11").status == 0 }, "daemon did not converge")
        XCTAssertFalse(tcp443("dev1", "198.51.100.20"), "nothing learned yet")
        // The device looks the name up through the peer's inner address.
        let dig = inNode("dev1", ["dig", "+short", "+time=3", "+tries=2", "@10.255.255.254", "cdn.example.com"])
        XCTAssertEqual(dig.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "198.51.100.20", "forwarder answer: \(dig.stdout)\(dig.stderr)")
        XCTAssertTrue(tcp443("dev1", "198.51.100.20"), "the answer was learned before the device used it:\n\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        // Learned answers live TTL + slack (11 s here): read each map right after its lookup.
        func map(_ name: String) -> String { inNode("peer", ["nft", "list", "map", "inet", "gatepeer", name]).stdout }
        let dom4 = map("g0_dom4")
        XCTAssertTrue(dom4.contains("198.51.100.20 . tcp . 443 timeout") && dom4.contains(": goto r0_0"), dom4)
        // Two labels are not one: deep.sub.example.com is answered but not allowed.
        let deep = inNode("dev1", ["dig", "+short", "+time=3", "@10.255.255.254", "deep.sub.example.com"])
        XCTAssertEqual(deep.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "203.0.113.10")
        XCTAssertFalse(tcp443("dev1", "203.0.113.10"))
        // Not an open resolver: the backend is no device and gets no answer.
        let fromBackend = inNode("backend", ["dig", "+short", "+time=2", "+tries=1", "@10.255.255.254", "cdn.example.com"])
        XCTAssertFalse(fromBackend.stdout.contains("198.51.100.20"), fromBackend.stdout)
        // An unknown name gets the upstream's NXDOMAIN through the forwarder.
        let nx = inNode("dev1", ["dig", "+time=3", "@10.255.255.254", "nothing.example.org"])
        XCTAssertTrue(nx.stdout.contains("status: NXDOMAIN") || nx.stdout.contains("status: REFUSED"), nx.stdout)

        // ICMP to echo.example.net's address opens once the name is looked up; TCP does not.
        XCTAssertNotEqual(inNode("dev1", ["ping", "-c", "1", "-W", "1", "203.0.113.10"]).status, 0, "icmp before the lookup")
        XCTAssertEqual(inNode("dev1", ["dig", "+short", "+time=3", "@10.255.255.254", "echo.example.net"]).status, 0)
        XCTAssertEqual(ping(from: "dev1", "203.0.113.10").status, 0, "icmp after the lookup")
        let dom4p = map("g0_dom4p")
        XCTAssertTrue(dom4p.contains("203.0.113.10 . icmp timeout") && dom4p.contains(": goto r0_1"), dom4p)
        XCTAssertFalse(tcp443("dev1", "203.0.113.10"), "the icmp rule allows icmp only")
        // Any protocol to all.example.org's address once looked up.
        XCTAssertNotEqual(inNode("dev1", ["ping", "-c", "1", "-W", "1", "198.51.100.20"]).status, 0, "icmp before the lookup")
        XCTAssertEqual(inNode("dev1", ["dig", "+short", "+time=3", "@10.255.255.254", "all.example.org"]).status, 0)
        XCTAssertEqual(ping(from: "dev1", "198.51.100.20").status, 0, "any protocol after the lookup")
        let dom4a = map("g0_dom4a")
        XCTAssertTrue(dom4a.contains("198.51.100.20 timeout") && dom4a.contains(": goto r0_2"), dom4a)
    }

    func testDaemonRepairsDriftAndReloadsOnHangup() throws {
        let cfgURL = URL(fileURLWithPath: writeConfig(try String(contentsOfFile: packageRoot.appendingPathComponent("netconfig/lab.json").path, encoding: .utf8)))
        let (p, log) = daemon(cfgURL.path, state: stateDir())
        XCTAssertTrue(eventually(10) { self.ping(from: "backend", "10.128.0.11").status == 0 }, "daemon did not converge")
        // Drift: someone deletes an FDB entry and our route.
        _ = inNode("peer", ["bridge", "fdb", "del", "00:00:00:00:00:00", "dev", "gp0", "dst", "100.64.152.4"])
        _ = inNode("peer", ["ip", "route", "del", "192.168.10.0/24"])
        XCTAssertTrue(eventually(8) {
            self.inNode("peer", ["bridge", "fdb", "show", "dev", "gp0"]).stdout.contains("00:00:00:00:00:00 dst 100.64.152.4")
                && self.inNode("peer", ["ip", "route", "show", "proto", "201"]).stdout.contains("192.168.10.0/24 via 10.129.3.7")
        }, "drift not repaired: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        // SIGHUP with a changed file: the new route appears; a broken file is refused.
        var text = try String(contentsOf: cfgURL, encoding: .utf8)
        text = text.replacingOccurrences(of: #"{ "destination": "192.168.10.0/24", "via": "10.129.3.7" }"#,
                                         with: #"{ "destination": "192.168.10.0/24", "via": "10.129.3.7" }, { "destination": "192.168.20.0/24", "via": "10.128.0.11" }"#)
        try text.write(to: cfgURL, atomically: true, encoding: .utf8)
        kill(p.processIdentifier, SIGHUP)
        XCTAssertTrue(eventually(8) { self.inNode("peer", ["ip", "route", "show", "proto", "201"]).stdout.contains("192.168.20.0/24") })
        try "{ not json".write(to: cfgURL, atomically: true, encoding: .utf8)
        kill(p.processIdentifier, SIGHUP)
        XCTAssertTrue(eventually(5) { ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("keeping the running config") })
        XCTAssertTrue(p.isRunning, "a bad config must not stop the service")
        XCTAssertEqual(ping(from: "backend", "10.128.0.11").status, 0)
    }

    func testDomainRulesFollowDNSAnswersAndTTLs() throws {
        // dnsmasq on the lab's DNS address, answering from a hosts file with TTL 3 s.
        let hosts = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-hosts-\(prefix)")
        addTeardownBlock { try? FileManager.default.removeItem(at: hosts) }
        try "203.0.113.10 api.example.com\n".write(to: hosts, atomically: true, encoding: .utf8)
        let dns = startDNS(hosts)
        for port in ["443"] { background("inet", ["socat", "TCP-LISTEN:\(port),fork,reuseaddr", "SYSTEM:read -r _; echo ok"]) }

        // Devices may reach api.example.com on tcp/443, and nothing else on the internet.
        let cfg = try domainConfig([["action": "allow", "domain": "api.example.com", "protocol": "tcp", "ports": [443]]])
        let state = stateDir()
        let (_, log) = daemon(cfg, state: state, resync: 2)
        func tcp443(_ host: String) -> Bool { self.tcp443("dev1", host) }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        XCTAssertTrue(eventually(15) { tcp443("203.0.113.10") }, "api.example.com's address never opened:\n\(logText())")
        // While the answer stays the same the hole stays open, across several TTL
        // refreshes (TTL 3 s + slack 8 s): each refresh really extends the element.
        let steady = Date().addingTimeInterval(10)
        while Date() < steady {
            XCTAssertTrue(tcp443("203.0.113.10"), "closed between refreshes at \(Date())")
            Thread.sleep(forTimeInterval: 0.3)
        }
        XCTAssertFalse(tcp443("198.51.100.20"), "an address the name does not have")
        let check = inNode("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary, "filter", "check", "10.128.0.11", "203.0.113.10", "tcp/443", "-c", cfg])
        XCTAssertTrue(check.stdout.hasPrefix("allow: filter.outbound[0].rules[0]"), check.stdout)

        // The answer changes: the new address opens once the TTL runs out, and the old
        // one stays until TTL + slack, then closes.
        try "198.51.100.20 api.example.com\n".write(to: hosts, atomically: true, encoding: .utf8)
        kill(dns.processIdentifier, SIGHUP)
        XCTAssertTrue(eventually(15) { tcp443("198.51.100.20") }, "the new answer was not followed:\n\(logText())")
        XCTAssertTrue(eventually(20) { !tcp443("203.0.113.10") }, "the old address never expired")

        // The DNS server goes away: the last answer is kept until it expires, with a warning.
        dns.terminate()
        dns.waitUntilExit()
        XCTAssertTrue(tcp443("198.51.100.20"), "the last answer must survive a failed lookup until it expires")
        XCTAssertTrue(eventually(15) { logText().contains("resolving api.example.com failed") }, logText())
        XCTAssertTrue(eventually(20) { !tcp443("198.51.100.20") }, "the last answer never expired")
        let mode = try FileManager.default.attributesOfItem(atPath: namespaceStateDirectory(base: state.path, namespace: node("peer")).appendingPathComponent("learned.json").path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
    }

    // MARK: a name with more addresses than a name keeps (issue 10 item 2)

    /// big.example.com with 40 addresses (TTL 60 s, so nothing expires during the test), each
    /// on the internet node with a tcp/443 server, and 40 IPv6 addresses (2001:db8:100::100
    /// ...); alias.example.com a CNAME of it. The daemon runs with a rule allowing
    /// *.example.com on tcp/443. Returns the config, the state directory and the addresses.
    func bigNameLab(_ extra: [String: Any] = [:], resync: Int = 2, dnsmasq: [String] = []) throws -> (cfg: String, state: URL, all: [String], dns: Process, hosts: URL) {
        let all = (100..<140).map { "198.51.100.\($0)" }
        let hosts = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-hosts-\(prefix)")
        addTeardownBlock { try? FileManager.default.removeItem(at: hosts) }
        try (all.map { "\($0) big.example.com" } + (100..<140).map { "2001:db8:100::\($0) big.example.com" }
             + ["198.51.100.20 cdn.example.com"]).joined(separator: "\n").appending("\n")
            .write(to: hosts, atomically: true, encoding: .utf8)
        let added = inNode("inet", ["ip", "-batch", "-"], stdin: all.map { "addr add \($0)/32 dev lo" }.joined(separator: "\n") + "\n")
        XCTAssertEqual(added.status, 0, added.stderr)
        let dns = startDNS(hosts, ttl: 60, ["--cname=alias.example.com,big.example.com"] + dnsmasq)
        background("inet", ["socat", "TCP-LISTEN:443,fork,reuseaddr", "SYSTEM:read -r _; echo ok"])
        let cfg = try domainConfig([["action": "allow", "domain": "*.example.com", "protocol": "tcp", "ports": [443]]], extra)
        let state = stateDir()
        let (_, log) = daemon(cfg, state: state, resync: resync)
        XCTAssertTrue(eventually(10) {
            self.inNode("dev1", ["dig", "+short", "+time=1", "+tries=1", "@10.255.255.254", "cdn.example.com"]).stdout.contains("198.51.100.20")
        }, "forwarder never answered: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        return (cfg, state, all, dns, hosts)
    }

    /// The addresses in g0_dom4 (address . tcp . 443 -> rule), read back with nft -j.
    func learnedInKernel(_ map: String = "g0_dom4") throws -> Set<String> { Set(try learnedExpiry(map).keys) }

    /// Address to seconds left (`expires`) of the elements of a learned map, from nft -j.
    func learnedExpiry(_ map: String) throws -> [String: Int] {
        let out = inNode("peer", ["nft", "-j", "list", "map", "inet", "gatepeer", map])
        XCTAssertEqual(out.status, 0, out.stderr)
        var found: [String: Int] = [:]
        func walk(_ v: Any) {
            if let d = v as? [String: Any] {
                if let expires = d["expires"] as? Int, let val = d["val"] {
                    var strings: [String] = []
                    func text(_ x: Any) { if let s = x as? String { strings.append(s) } else if let a = x as? [Any] { a.forEach(text) } else if let o = x as? [String: Any] { o.values.forEach(text) } }
                    text(val)
                    if let a = strings.first(where: { $0.hasPrefix("198.51.100.") || $0.hasPrefix("2001:db8:100::") }) { found[a] = expires }
                }
                d.values.forEach(walk)
            } else if let a = v as? [Any] { a.forEach(walk) }
        }
        walk(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)))
        return found
    }

    /// The addresses of `type` records in dig's answer section, with their TTLs.
    func toldTTL(_ dig: Run, _ type: String = "A") -> [(address: String, ttl: Int)] {
        dig.stdout.split(separator: "\n").filter { !$0.hasPrefix(";") }.compactMap { line in
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return f.count == 5 && f[3] == type ? (String(f[4]), Int(f[1]) ?? -1) : nil
        }
    }

    /// The A records' addresses in dig's answer section.
    func told(_ dig: Run) -> [String] { toldTTL(dig).map(\.address) }

    /// `filter check` gives the kernel's verdict for every address of the answer, and real
    /// packets agree: told-and-learned addresses open, the rest stay closed.
    func assertCheckAgreesWithKernel(_ cfg: String, _ state: URL, _ all: [String], kernel: Set<String>, packets: Bool = true, file: StaticString = #filePath, line: UInt = #line) {
        for a in all {
            let check = inNode("peer", ["env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary, "filter", "check", "10.128.0.11", a, "tcp/443", "-c", cfg])
            XCTAssertEqual(check.stdout.hasPrefix("allow:"), kernel.contains(a), "filter check \(a): \(check.stdout)\(check.stderr)", file: file, line: line)
        }
        guard packets else { return }
        let inSet = all.filter { kernel.contains($0) }, outside = all.filter { !kernel.contains($0) }
        // Packets prove something only if some address is expected open: an empty set here
        // would let a filter that drops everything (or allows nothing learned) pass.
        XCTAssertFalse(inSet.isEmpty, "no learned address among \(all) to send packets to", file: file, line: line)
        for a in inSet.prefix(2) { XCTAssertTrue(tcp443("dev1", a), "\(a) is learned but closed", file: file, line: line) }
        for a in outside.prefix(2) { XCTAssertFalse(tcp443("dev1", a), "\(a) is not learned but open", file: file, line: line) }
    }

    /// A device without EDNS gets a truncated UDP answer and retries over TCP: the
    /// forwarder serves TCP (several queries on one connection), and what it tells is what
    /// the kernel learned.
    func testDeviceWithoutEDNSRetriesOverTCP() throws {
        // Room for all 40: the whole answer is learned, and too big for 512 bytes.
        let (cfg, state, all, _, _) = try bigNameLab(["maxAddressesPerName": 40])
        let udp = inNode("dev1", ["dig", "+noedns", "+ignore", "+time=3", "+tries=1", "@10.255.255.254", "big.example.com"])
        XCTAssertTrue(udp.stdout.contains("flags: qr tc") || udp.stdout.range(of: #"flags:[a-z ]* tc"#, options: .regularExpression) != nil,
                      "a 40-address answer does not fit 512 bytes: \(udp.stdout)")
        let tcp = inNode("dev1", ["dig", "+tcp", "+noedns", "+keepopen", "+time=3", "+tries=1", "@10.255.255.254", "big.example.com", "cdn.example.com"])
        XCTAssertEqual(tcp.status, 0, tcp.stdout + tcp.stderr)
        let told = self.told(tcp)
        XCTAssertEqual(Set(told).subtracting(["198.51.100.20"]), Set(all), "TCP answer: \(tcp.stdout)")
        XCTAssertTrue(told.contains("198.51.100.20"), "second query on the same connection: \(tcp.stdout)")
        let kernel = try learnedInKernel()
        XCTAssertEqual(kernel, Set(all).union(["198.51.100.20"]))
        assertCheckAgreesWithKernel(cfg, state, all, kernel: kernel)
    }

    /// With EDNS the whole answer fits, but a name keeps 16 addresses: the device is told
    /// exactly the addresses the kernel holds, and `filter check` agrees with the kernel
    /// (and real packets) for every address of the name.
    func testDeviceIsToldExactlyTheAddressesTheFilterKeeps() throws {
        let (cfg, state, all, _, _) = try bigNameLab()
        for round in 0..<2 {
            let dig = inNode("dev1", ["dig", "+bufsize=4096", "+time=3", "+tries=1", "@10.255.255.254", "big.example.com"])
            XCTAssertEqual(dig.status, 0, dig.stdout + dig.stderr)
            let told = self.told(dig)
            // cdn.example.com (the readiness lookup) is learned as well: only big's addresses.
            let kernel = try learnedInKernel().intersection(all)
            XCTAssertEqual(told.count, 16, "round \(round): the cap per name: \(dig.stdout)")
            XCTAssertEqual(Set(told), kernel, "round \(round): told \(told.sorted()), kernel holds \(kernel.sorted())")
            assertCheckAgreesWithKernel(cfg, state, all, kernel: kernel)
        }
    }

    /// TCP clients that open connections and send half a query, or nothing, hold neither the
    /// UDP path nor the forwarder: UDP answers while more connections than the bound hang,
    /// and the forwarder closes each of them itself (the bound, the per-message deadline,
    /// the idle timeout).
    func testSlowTCPClientsHoldUpNobody() throws {
        _ = try bigNameLab()
        // bash: 40 connections; every other one is sent the first byte of a length prefix and
        // nothing more (the per-message deadline), the rest nothing at all (the idle timeout).
        let script = """
        fds=()
        for i in $(seq 40); do exec {fd}<>/dev/tcp/10.255.255.254/53 || exit 1; [ $((i % 2)) = 0 ] && printf '\\0' >&$fd; fds+=($fd); done
        echo "udp $(dig +short +time=3 +tries=1 @10.255.255.254 cdn.example.com)"
        closed=0
        # EOF, or a reset for the connections beyond the bound (closed with a byte unread); 124: timed out.
        for fd in "${fds[@]}"; do timeout 30 cat <&$fd >/dev/null 2>&1; [ $? -ne 124 ] && closed=$((closed + 1)); done
        echo "closed $closed"
        """
        let run = inNode("dev1", ["bash", "-c", script])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("udp 198.51.100.20"), "UDP while 40 TCP clients hang: \(run.stdout)")
        XCTAssertTrue(run.stdout.contains("closed 40"), "the forwarder closes slow connections itself: \(run.stdout)\(run.stderr)")
        let tcp = inNode("dev1", ["dig", "+tcp", "+short", "+time=3", "+tries=1", "@10.255.255.254", "cdn.example.com"])
        XCTAssertEqual(tcp.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "198.51.100.20", tcp.stdout + tcp.stderr)
    }

    /// One device holds 32 TCP connections to the forwarder (all it serves), each sending a
    /// query every 4 s, under the idle timeout: another device still gets answers over TCP
    /// across 12 s, the device itself too, and the forwarder keeps at most 8 of its
    /// connections (RFC 7766 6.2.2; before, dev2 got "connection reset" every time).
    func testOneDeviceWithManyTCPConnectionsShutsNobodyOut() throws {
        _ = try bigNameLab()
        let query = DNSMessage.query(id: 0x4242, name: "cdn.example.com", type: .a)
        let escaped = ([UInt8(query.count >> 8), UInt8(query.count & 0xff)] + query).map { String(format: "\\x%02x", $0) }.joined()
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-opened-\(prefix)")
        addTeardownBlock { try? FileManager.default.removeItem(at: marker) }
        // SIGPIPE ignored: a connection the forwarder closed must not end the script (and
        // with it the connections it still holds).
        let script = """
        trap '' PIPE
        fds=()
        for i in $(seq 32); do exec {fd}<>/dev/tcp/10.255.255.254/53 || exit 1; fds+=($fd); done
        echo opened > \(marker.path)
        while :; do sleep 4; for fd in "${fds[@]}"; do printf '\(escaped)' >&$fd 2>/dev/null; done; done
        """
        background("dev1", ["bash", "-c", script])
        XCTAssertTrue(eventually(10) { FileManager.default.fileExists(atPath: marker.path) }, "dev1 did not open its connections")
        for round in 0..<3 {
            if round > 0 { Thread.sleep(forTimeInterval: 6) }
            let dig = inNode("dev2", ["dig", "+tcp", "+short", "+time=3", "+tries=1", "@10.255.255.254", "cdn.example.com"])
            XCTAssertEqual(dig.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "198.51.100.20", "dev2, round \(round): \(dig.stdout)\(dig.stderr)")
        }
        let own = inNode("dev1", ["dig", "+tcp", "+short", "+time=3", "+tries=1", "@10.255.255.254", "cdn.example.com"])
        XCTAssertEqual(own.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "198.51.100.20", "dev1's new connection: \(own.stdout)\(own.stderr)")
        // The kernel's view in the peer: dev1's connections to port 53 still established
        // (DNSForwarder.maxConnectionsPerSource).
        func held() -> [Substring] {
            inNode("peer", ["ss", "-Htn", "state", "established", "( sport = :53 )"]).stdout.split(separator: "\n").filter { $0.contains("10.128.0.11:") }
        }
        XCTAssertTrue(eventually(5) { held().count <= 8 }, "dev1 holds \(held().count): \(held())")
    }

    /// Sibling over UDP: one device keeps asking for a name whose upstream never answers
    /// (each query holds a slot 2 s): another device's queries still get a slot, as the
    /// device may hold 16 of the 64 (before, dev2's query was dropped while dev1 held all).
    func testOneDeviceWithSlowUDPQueriesShutsNobodyOut() throws {
        try slowNameLab()
        floodSlowName()
        Thread.sleep(forTimeInterval: 3)  // past the first queries' 2 s: the slots stay taken
        for round in 0..<3 {
            let dig = inNode("dev2", ["dig", "+short", "+time=2", "+tries=1", "@10.255.255.254", "cdn.example.com"])
            XCTAssertEqual(dig.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "198.51.100.20", "dev2, round \(round): \(dig.stdout)\(dig.stderr)")
        }
        let slow = inNode("dev1", ["dig", "+time=4", "+tries=1", "@10.255.255.254", "slow.example.org"])
        XCTAssertFalse(slow.stdout.contains("status: NOERROR"), "slow.example.org must get no answer: \(slow.stdout)")
    }

    /// TCP/53 to the resolver is dropped (nft in the resolver's namespace): a device's TCP
    /// query is answered from the resolver's UDP answer when that is whole, learned and
    /// cut as always (before: SERVFAIL).
    func testTCPQueryFallsBackToUDPWhenTheResolversTCPIsBlocked() throws {
        _ = try bigNameLab()
        let block = inNode("inet", ["nft", "-f", "-"], stdin: "table inet gptblock {\n chain input {\n type filter hook input priority 0; policy accept;\n tcp dport 53 drop\n }\n}\n")
        XCTAssertEqual(block.status, 0, block.stderr)
        let direct = inNode("inet", ["dig", "+tcp", "+short", "+time=2", "+tries=1", "@203.0.113.53", "cdn.example.com"])
        XCTAssertFalse(direct.stdout.contains("198.51.100.20"), "TCP/53 is not blocked: \(direct.stdout)")
        let dig = inNode("dev1", ["dig", "+tcp", "+time=8", "+tries=1", "@10.255.255.254", "cdn.example.com"])
        XCTAssertEqual(told(dig), ["198.51.100.20"], dig.stdout + dig.stderr)
        let big = inNode("dev1", ["dig", "+tcp", "+time=8", "+tries=1", "@10.255.255.254", "big.example.com"])
        let kept = told(big)
        XCTAssertEqual(kept.count, 16, big.stdout + big.stderr)
        let inKernel = try learnedInKernel()
        XCTAssertTrue(Set(kept).isSubset(of: inKernel), "told \(kept), the kernel holds \(inKernel)")
    }

    /// The name's 40 addresses are replaced by 40 others while the first ones are within
    /// their TTL: the name keeps the addresses devices may hold, the device is told those,
    /// and kernel and `filter check` agree about all 80 (before, the new answer displaced
    /// the old addresses in learned.json while the kernel kept them until the next resync).
    func testAChangedAnswerKeepsKernelCheckAndDeviceOnOneSet() throws {
        let (cfg, state, all, dns, hosts) = try bigNameLab(resync: 300)
        let first = told(inNode("dev1", ["dig", "+bufsize=4096", "+time=3", "+tries=1", "@10.255.255.254", "big.example.com"]))
        let others = (140..<180).map { "198.51.100.\($0)" }
        try others.map { "\($0) big.example.com" }.joined(separator: "\n").appending("\n").write(to: hosts, atomically: true, encoding: .utf8)
        kill(dns.processIdentifier, SIGHUP)
        XCTAssertTrue(eventually(10) {
            self.inNode("inet", ["dig", "+short", "+bufsize=4096", "@203.0.113.53", "big.example.com"]).stdout.contains("198.51.100.140")
        }, "dnsmasq did not take the new hosts")
        let dig = inNode("dev1", ["dig", "+bufsize=4096", "+time=3", "+tries=1", "@10.255.255.254", "big.example.com"])
        let second = told(dig)
        let kernel = try learnedInKernel().intersection(all + others)
        XCTAssertEqual(Set(first), kernel, "the first answer's kept addresses stay within their TTL")
        XCTAssertEqual(Set(second), kernel, "told \(second.sorted()), kernel holds \(kernel.sorted()): \(dig.stdout)")
        assertCheckAgreesWithKernel(cfg, state, all + others, kernel: kernel)
    }

    /// Siblings: an answer through a CNAME and an AAAA answer are cut the same way, the
    /// families have a cap each, and no address is told for longer than the kernel keeps it.
    func testCNAMEAndAAAAAnswersTellOnlyWhatTheKernelKeepsAndNoLonger() throws {
        let (cfg, state, all, _, _) = try bigNameLab()
        let v6 = (100..<140).map { "2001:db8:100::\($0)" }
        let alias = inNode("dev1", ["dig", "+bufsize=4096", "+time=3", "+tries=1", "@10.255.255.254", "alias.example.com"])
        XCTAssertTrue(alias.stdout.contains("CNAME\tbig.example.com."), alias.stdout)
        let told4 = toldTTL(alias)
        XCTAssertEqual(told4.count, 16, alias.stdout)
        let aaaa = inNode("dev1", ["dig", "+bufsize=4096", "+time=3", "+tries=1", "@10.255.255.254", "big.example.com", "AAAA"])
        let told6 = toldTTL(aaaa, "AAAA")
        XCTAssertEqual(told6.count, 16, "a cap of its own for IPv6: \(aaaa.stdout)")
        let expiry = try learnedExpiry("g0_dom4").merging(try learnedExpiry("g0_dom6")) { $1 }
        XCTAssertEqual(Set(told4.map(\.address)), Set(expiry.keys).intersection(all), "A through the CNAME")
        XCTAssertEqual(Set(told6.map(\.address)), Set(expiry.keys).intersection(v6), "AAAA")
        for t in told4 + told6 {
            XCTAssertLessThanOrEqual(t.ttl, expiry[t.address] ?? -1, "\(t.address) told for \(t.ttl) s, the kernel keeps it \(expiry[t.address] ?? -1) s")
        }
        // And the A answer for the name itself still gets its 16: AAAA took none of its room.
        let direct = told(inNode("dev1", ["dig", "+bufsize=4096", "+time=3", "+tries=1", "@10.255.255.254", "big.example.com"]))
        XCTAssertEqual(direct.count, 16)
        XCTAssertEqual(Set(direct), try learnedInKernel().intersection(all).intersection(direct))
        assertCheckAgreesWithKernel(cfg, state, v6, kernel: Set(expiry.keys), packets: false)
    }

    // MARK: the forwarder follows a reload (issue 11 item 4)

    /// What the forwarder on `server` tells dev1 about which.example.com ("" when nothing answers).
    func which(_ server: String = "10.255.255.254", tcp: Bool = false) -> String {
        let dig = inNode("dev1", ["dig", "+short", "+time=1", "+tries=1"] + (tcp ? ["+tcp"] : []) + ["@\(server)", "which.example.com"])
        return dig.status == 0 ? dig.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : ""
    }

    /// Rewrites config `cfg` with `filter` merged into its filter section (and `links`
    /// appended when given), then sends SIGHUP to the daemon `hangUp`.
    func rewrite(_ cfg: String, _ filter: [String: Any], links: [[String: Any]]? = nil, hangUp: Process) throws {
        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cfg))) as? [String: Any])
        var f = doc["filter"] as! [String: Any]
        f.merge(filter) { $1 }
        doc["filter"] = f
        if let links { doc["links"] = (doc["links"] as! [Any]) + links }
        try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: cfg))
        kill(hangUp.processIdentifier, SIGHUP)
    }

    /// A second link: its inner address (10.64.255.254) is one more listen address of the
    /// forwarder, and dev1 reaches it through the peer like any address of the peer.
    let secondLink: [String: Any] = ["name": "gp1", "vxlanId": 11, "port": 4789, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254",
                                     "innerIpAddress": "10.64.255.254/16", "peers": [["outerIpAddress": "100.64.152.200", "innerIpAddress": "10.64.255.1"]], "routes": []]

    /// SIGHUP takes a changed `resolvers`, `dnsForwarder` and set of inner addresses into the
    /// running forwarder: a device's query is answered by the new resolver, the port closes
    /// when the forwarder is turned off and opens again when it is turned on, and a link
    /// added with its inner address is listened on too. Two resolvers that answer the same
    /// name differently tell which one answered.
    func testReloadMovesTheForwarderToNewResolversAddressesAndOnOff() throws {
        let tmp = FileManager.default.temporaryDirectory
        let oldHosts = tmp.appendingPathComponent("gatepeer-hosts-\(prefix)-old"), newHosts = tmp.appendingPathComponent("gatepeer-hosts-\(prefix)-new")
        addTeardownBlock { for h in [oldHosts, newHosts] { try? FileManager.default.removeItem(at: h) } }
        try "203.0.113.10 which.example.com\n203.0.113.10 api.example.org\n".write(to: oldHosts, atomically: true, encoding: .utf8)
        try "198.51.100.20 which.example.com\n198.51.100.21 api.example.org\n".write(to: newHosts, atomically: true, encoding: .utf8)
        startDNS(oldHosts)
        startDNS(newHosts, at: "198.51.100.20")
        // A wildcard rule (learned through the forwarder) and an exact name (resolved by the
        // daemon itself, at the resolvers of the running config).
        let rules: [[String: Any]] = [["action": "allow", "domain": "*.example.com", "protocol": "tcp", "ports": [443]],
                                      ["action": "allow", "domain": "api.example.org", "protocol": "tcp", "ports": [443]]]
        let cfg = try domainConfig(rules)
        let (p, log) = daemon(cfg, state: stateDir(), resync: 2)
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        func answer(_ server: String = "10.255.255.254", tcp: Bool = false) -> String { which(server, tcp: tcp) }
        func reload(_ filter: [String: Any], links: [[String: Any]]? = nil) throws { try rewrite(cfg, filter, links: links, hangUp: p) }
        XCTAssertTrue(eventually(10) { answer() == "203.0.113.10" }, "the old resolver never answered through the forwarder: \(logText())")

        try reload(["resolvers": ["198.51.100.20"]])
        XCTAssertTrue(eventually(10) { answer() == "198.51.100.20" }, "still the old resolver after the reload: \(answer())\n\(logText())")
        XCTAssertEqual(answer(tcp: true), "198.51.100.20", "over TCP")
        XCTAssertTrue(eventually(10) {
            self.inNode("peer", ["nft", "list", "map", "inet", "gatepeer", "g0_dom4"]).stdout.contains("198.51.100.21 . tcp . 443")
        }, "the exact name was not resolved at the new resolver: \(logText())")

        try reload(["dnsForwarder": false])
        XCTAssertTrue(eventually(10) { answer() == "" && answer(tcp: true) == "" }, "the forwarder still answers after it was turned off: \(logText())")
        let closed = inNode("dev1", ["socat", "-T2", "-", "TCP:10.255.255.254:53,connect-timeout=2"], stdin: "")
        XCTAssertNotEqual(closed.status, 0, "TCP port 53 still open with the forwarder off")

        try reload(["dnsForwarder": true])
        XCTAssertTrue(eventually(10) { answer() == "198.51.100.20" }, "the forwarder did not come back on: \(logText())")

        try reload([:], links: [secondLink])
        XCTAssertTrue(eventually(10) { answer("10.64.255.254") == "198.51.100.20" }, "not listening on the added inner address: \(logText())")
        XCTAssertEqual(answer(), "198.51.100.20", "the first inner address still answers")

        // A config that fails validation changes nothing: the forwarder keeps serving.
        try #"{ "links": [], "filter": { "dnsForwarder": "yes" } }"#.write(toFile: cfg, atomically: true, encoding: .utf8)
        kill(p.processIdentifier, SIGHUP)
        XCTAssertTrue(eventually(5) { logText().contains("keeping the running config") }, logText())
        XCTAssertEqual(answer("10.64.255.254"), "198.51.100.20", "a refused reload stopped the forwarder")
        XCTAssertTrue(p.isRunning)
    }

    /// A reload whose new inner address cannot be bound (another process listens on its TCP
    /// port 53) leaves the forwarder serving what it served, says why, and a later SIGHUP
    /// binds it once the port is free.
    func testReloadThatCannotBindKeepsTheForwarderAndRetries() throws {
        let hosts = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-hosts-\(prefix)")
        addTeardownBlock { try? FileManager.default.removeItem(at: hosts) }
        try "203.0.113.10 which.example.com\n".write(to: hosts, atomically: true, encoding: .utf8)
        startDNS(hosts)
        let cfg = try domainConfig([["action": "allow", "domain": "*.example.com", "protocol": "tcp", "ports": [443]]])
        let (p, log) = daemon(cfg, state: stateDir(), resync: 2)
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        XCTAssertTrue(eventually(10) { self.which() == "203.0.113.10" }, "the forwarder never answered: \(logText())")
        // Someone else listens on TCP port 53 of the address the next config adds.
        let squatter = background("peer", ["socat", "TCP-LISTEN:53,bind=10.64.255.254,ip-freebind=1", "-"])
        XCTAssertTrue(eventually(10) { self.inNode("peer", ["ss", "-Hltn", "src", "10.64.255.254:53"]).stdout.contains("LISTEN") }, "socat did not listen")

        try rewrite(cfg, [:], links: [secondLink], hangUp: p)
        XCTAssertTrue(eventually(10) { logText().contains("dns forwarder keeps its settings") }, logText())
        XCTAssertTrue(logText().contains("10.64.255.254 port 53: bind: Address already in use (EADDRINUSE)"), logText())
        XCTAssertEqual(which(), "203.0.113.10", "the running forwarder stopped answering")
        XCTAssertEqual(which("10.64.255.254"), "", "half-bound: the UDP socket of the refused address answers")

        squatter.terminate()
        squatter.waitUntilExit()
        kill(p.processIdentifier, SIGHUP)
        XCTAssertTrue(eventually(10) { self.which("10.64.255.254") == "203.0.113.10" }, "not bound after the port was freed: \(logText())")
        XCTAssertEqual(which(), "203.0.113.10")
    }
}
