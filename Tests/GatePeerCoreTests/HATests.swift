import Foundation
import XCTest
@testable import GatePeerCore

/// The `ha` section (HADecoder), the planner's standby state, the keepalived and
/// conntrackd renders, `gatepeer health`'s judgement and `ha notify`'s steps, all
/// without root. The engines' own parsers check the renders in HALabTests.
final class HATests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func example(_ name: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent("netconfig/ha/\(name)"), encoding: .utf8)
    }

    /// peer-a.json with `edit` applied to its JSON object (a top-level dictionary).
    func variant(_ edit: (inout [String: Any]) -> Void) throws -> String {
        var o = try JSONSerialization.jsonObject(with: Data(try Self.example("peer-a.json").utf8)) as! [String: Any]
        edit(&o)
        return String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
    }

    func haEdit(_ key: String, _ value: Any?) throws -> String {
        try variant { o in
            var ha = o["ha"] as! [String: Any]
            ha[key] = value
            o["ha"] = ha
        }
    }

    func linkEdit(_ key: String, _ value: Any?) throws -> String {
        try variant { o in
            var links = o["links"] as! [[String: Any]]
            links[0][key] = value
            o["links"] = links
        }
    }

    func assertProblem(_ text: String, _ path: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        let ps = problems(text)
        XCTAssertTrue(ps.contains { $0.path == path && $0.message.contains(fragment) },
                      "no \(path): ...\(fragment)... in \(ps.map(\.description))", file: file, line: line)
    }

    // MARK: the section

    func testExamplesDecode() throws {
        let a = try XCTUnwrap(decodeOK(try Self.example("peer-a.json")))
        let ha = try XCTUnwrap(a.ha)
        XCTAssertEqual(ha.mode, .movingIdentity)
        XCTAssertEqual(ha.interface, "eth0")
        XCTAssertEqual(ha.nodeAddress, IPPrefix("172.31.0.11/24"))
        XCTAssertEqual(ha.peerAddress, IPAddress("172.31.0.12"))
        XCTAssertEqual(ha.virtualRouterId, 51)
        XCTAssertEqual(ha.priority, 150)
        XCTAssertEqual(ha.peerPriority, 100)
        XCTAssertEqual(ha.advertIntervalMs, 100)
        XCTAssertFalse(ha.preempt)
        XCTAssertEqual(ha.backend, HAConfig.VirtualAddress(prefix: IPPrefix("172.31.0.253/24")!, device: "eth0"))
        XCTAssertEqual(ha.health, .default)
        XCTAssertEqual(ha.conntrackd, HAConfig.Conntrackd(port: 3780, configPath: "/etc/conntrackd/conntrackd.conf"))
        XCTAssertEqual(ha.instances(links: a.links).map(\.name), ["gatepeer_link_gp0", "gatepeer_backend"])
        XCTAssertEqual(ha.instances(links: a.links).map(\.routerId), [51, 52])
        XCTAssertEqual(ha.movingAddresses(links: a.links).map { "\($0.prefix) dev \($0.device)" },
                       ["172.31.0.254/24 dev eth0", "10.255.255.254/9 dev gp0", "172.31.0.253/24 dev eth0"])
        let b = try XCTUnwrap(decodeOK(try Self.example("peer-b.json")))
        XCTAssertEqual(b.ha?.nodeAddress, IPPrefix("172.31.0.12/24"))
        XCTAssertEqual(b.links, a.links, "both nodes present one identity: the same links")
    }

    func testPeerThatIsThisNode() throws {
        assertProblem(try haEdit("peerAddress", "172.31.0.11"), "ha.peerAddress", "is this node's own nodeAddress")
    }

    func testVirtualAddressOutsideItsSubnet() throws {
        assertProblem(try linkEdit("outerIpAddress", "10.0.1.25"), "links[0].outerIpAddress", "is outside ha.nodeAddress's subnet 172.31.0.0/24")
        assertProblem(try haEdit("backend", ["device": "eth0", "address": "172.31.5.1/24"]), "ha.backend.address", "is outside eth0's subnet 172.31.0.0/24")
        assertProblem(try haEdit("peerAddress", "172.31.9.12"), "ha.peerAddress", "is outside nodeAddress's subnet")
        assertProblem(try linkEdit("outerIpAddress", "172.31.0.11"), "links[0].outerIpAddress", "is ha.nodeAddress")
        assertProblem(try linkEdit("outerIpAddress", "172.31.0.255"), "links[0].outerIpAddress", "broadcast address of 172.31.0.0/24")
    }

    func testEqualPriorities() throws {
        assertProblem(try haEdit("peerPriority", 150), "ha.peerPriority", "150 equals priority")
        assertProblem(try haEdit("priority", 255), "ha.priority", "255 is out of range; valid: 1..254")
    }

    func testAdvertInterval() throws {
        assertProblem(try haEdit("advertIntervalMs", 5), "ha.advertIntervalMs", "5 is out of range; valid: 10..40950")
        assertProblem(try haEdit("advertIntervalMs", 41000), "ha.advertIntervalMs", "out of range")
        assertProblem(try haEdit("advertIntervalMs", 105), "ha.advertIntervalMs", "105 is not a multiple of 10")
        XCTAssertEqual(decodeOK(try haEdit("advertIntervalMs", 10))?.ha?.advertIntervalMs, 10)
        XCTAssertEqual(decodeOK(try haEdit("advertIntervalMs", 40950))?.ha?.advertIntervalMs, 40950)
    }

    func testPreemptAndWeight() throws {
        assertProblem(try haEdit("preemptDelaySeconds", 30), "ha.preemptDelaySeconds", "needs preempt true")
        assertProblem(try haEdit("health", ["weight": -60]), "ha.health.weight", "with preempt false never moves the master")
        let small = try variant { o in
            var ha = o["ha"] as! [String: Any]
            ha["preempt"] = true
            ha["health"] = ["weight": -20]
            o["ha"] = ha
        }
        assertProblem(small, "ha.health.weight", "cannot bring a failing node of priority 150 below a healthy one of 100")
        let enough = try variant { o in
            var ha = o["ha"] as! [String: Any]
            ha["preempt"] = true
            ha["preemptDelaySeconds"] = 30
            ha["health"] = ["weight": -60]
            o["ha"] = ha
        }
        let c = try XCTUnwrap(decodeOK(enough)?.ha)
        XCTAssertEqual(c.health.weight, -60)
        XCTAssertEqual(c.preemptDelaySeconds, 30)
    }

    func testLinksMadeRedundant() throws {
        assertProblem(try linkEdit("mac", nil), "links[0].mac", "is required with ha")
        assertProblem(try linkEdit("liveness", ["enabled": false]), "links[0].liveness.enabled", "leaves gatepeer health nothing to judge")
        assertProblem(try linkEdit("peers", [["outerIpAddress": "100.64.152.4"]]), "links[0].peers", "none is probed")
        let two = try variant { o in
            var links = o["links"] as! [[String: Any]]
            var second = links[0]
            second["name"] = "gp1"; second["port"] = 4790; second["underlayDevice"] = "eth1"
            second["outerIpAddress"] = "172.31.0.252"; second["innerIpAddress"] = "10.64.0.1/16"
            second["routes"] = []
            second["peers"] = [["outerIpAddress": "100.64.153.4", "innerIpAddress": "10.64.0.2"]]
            links.append(second)
            o["links"] = links
        }
        assertProblem(two, "links[1].underlayDevice", "is not links[0]'s \"eth0\"")
        assertProblem(try haEdit("virtualRouterId", 255), "ha.virtualRouterId", "leaves no room for 2 instances")
        assertProblem(try haEdit("mode", "two-peers"), "ha.mode", "is not built yet")
        assertProblem(try haEdit("hook", ["path": "relative/hook.sh"]), "ha.hook.path", "is not usable")
        assertProblem(try haEdit("nodeAddress", "172.31.0.11"), "ha.nodeAddress", "has no prefix length")
        assertProblem(try haEdit("priorty", 1), "ha.priorty", "unknown field (did you mean \"priority\"?)")
        let none = try variant { o in o["links"] = [] }
        assertProblem(none, "ha", "there are no links to make redundant")
    }

    /// Issue 13 review: every problem the ha section adds names what is valid (the
    /// project's "...; valid: ..."), the links' and filter.snatAddress's included.
    func testEveryHAProblemSaysWhatIsValid() throws {
        func second(_ edit: (inout [String: Any]) -> Void) throws -> String {
            try variant { o in
                var links = o["links"] as! [[String: Any]]
                var l = links[0]
                l["name"] = "gp1"; l["port"] = 4790; l["outerIpAddress"] = "172.31.0.252"; l["innerIpAddress"] = "10.64.0.1/16"
                l["routes"] = []
                l["peers"] = [["outerIpAddress": "100.64.153.4", "innerIpAddress": "10.64.0.2"]]
                edit(&l)
                links.append(l)
                o["links"] = links
            }
        }
        let cases: [(String, String, String)] = [
            (try haEdit("preemptDelaySeconds", 30), "ha.preemptDelaySeconds", "30 needs preempt true; valid: preempt true with it, or no preemptDelaySeconds"),
            (try haEdit("preemptDelaySeconds", 0), "ha.preemptDelaySeconds", "0 is out of range; valid: 1..1000"),
            (try linkEdit("outerIpAddress", "10.0.1.25"), "links[0].outerIpAddress", "is outside ha.nodeAddress's subnet 172.31.0.0/24; valid: a host address of 172.31.0.0/24"),
            (try second { $0["underlayDevice"] = "eth1" }, "links[1].underlayDevice", "\"eth1\" is not links[0]'s \"eth0\"; valid: \"eth0\""),
            (try second { $0["outerIpAddress"] = "172.31.0.254" }, "links[1].outerIpAddress", "172.31.0.254 is already links[0].outerIpAddress's; valid: an outer address of this link's own"),
            (try linkEdit("liveness", ["enabled": false]), "links[0].liveness.enabled", "nothing to judge the link by; valid: true"),
            (try linkEdit("mac", nil), "links[0].mac", "is required with ha; valid: the same MAC written in both nodes' files"),
            (try linkEdit("peers", [["outerIpAddress": "100.64.152.4"]]), "links[0].peers", "none is probed; valid: at least one peer with a probe target"),
            (try haEdit("backend", ["device": "eth0", "address": "172.31.0.254/24"]), "ha.backend.address", "which moves already; valid: an address no link has, or no backend"),
            (try withFilter(nat: "masquerade").replacingOccurrences(of: "\"nat\":\"masquerade\"", with: "\"nat\":\"masquerade\",\"snatAddress\":\"192.0.2.9\""),
             "filter.snatAddress", "is only used with \"nat\": \"snat\" (nat is \"masquerade\"); valid: \"nat\": \"snat\" with it, or no snatAddress"),
            (try withFilter(snat: nil), "filter.snatAddress", "is required when nat is \"snat\"; valid: "),
        ]
        for (text, path, fragment) in cases {
            assertProblem(text, path, fragment)
            for p in problems(text) where p.path == path {
                XCTAssertTrue(p.message.contains("; valid: "), "\(p) has no \"; valid: \"")
            }
        }
    }

    /// Every problem of a bad section at once, as everywhere else.
    func testEveryProblemAtOnce() throws {
        let bad = try variant { o in
            var ha = o["ha"] as! [String: Any]
            ha["peerAddress"] = "172.31.0.11"
            ha["peerPriority"] = 150
            ha["advertIntervalMs"] = 3
            o["ha"] = ha
        }
        XCTAssertEqual(Set(problems(bad).map(\.path)), ["ha.peerAddress", "ha.peerPriority", "ha.advertIntervalMs"])
    }

    // MARK: the planner on either node

    /// The standby: the outer address is keepalived's and not on eth0. Not a blocker; the
    /// link is made and kept ready; the inner address is not added; routes are onlink.
    func testStandbyIsNoBlocker() throws {
        let c = try XCTUnwrap(decodeOK(try Self.example("peer-a.json")))
        var o = baseObserved()
        o.addresses = [ObservedAddress(linkIndex: 2, prefix: IPPrefix("172.31.0.11/24")!)]
        let plan = Planner.plan(config: c, observed: o)
        XCTAssertEqual(plan.blockers, [])
        XCTAssertEqual(plan.notes, ["links[0].outerIpAddress: 172.31.0.254 is not on eth0: this node is the HA standby for link gp0 (keepalived adds the address on the master); the link is kept ready"])
        let lines = plan.changes.map(\.line)
        XCTAssertTrue(lines.contains { $0.hasPrefix("+ link gp0 vxlan id 10 port 4789 srcport 4789-4789 dev eth0 local 172.31.0.254") }, "\(lines)")
        XCTAssertFalse(lines.contains { $0.hasPrefix("+ address") }, "\(lines)")
        XCTAssertTrue(lines.contains("+ route 192.168.10.0/24 via 10.129.3.7 dev gp0 proto gatepeer onlink"), "\(lines)")
    }

    /// Converged on the standby (no inner address, onlink route) and on the master (the
    /// outer and inner addresses keepalived added): nothing to do on either.
    func testBothNodesConverged() throws {
        let c = try XCTUnwrap(decodeOK(try Self.example("peer-a.json")))
        var master = convergedObserved(c)
        master.addresses.append(ObservedAddress(linkIndex: 2, prefix: IPPrefix("172.31.0.11/24")!))
        for i in master.routes.indices where master.routes[i].protocolNumber == Ownership.routeProtocol { master.routes[i].onlink = true }
        XCTAssertEqual(Planner.plan(config: c, observed: master).changes.map(\.line), [])
        XCTAssertEqual(Planner.plan(config: c, observed: master).notes, [])
        var standby = master
        standby.addresses.removeAll { $0.prefix == IPPrefix("172.31.0.254/24") || $0.prefix == IPPrefix("10.255.255.254/9") }
        standby.routes.removeAll { $0.protocolNumber == 2 }
        let plan = Planner.plan(config: c, observed: standby)
        XCTAssertEqual(plan.changes.map(\.line), [])
        XCTAssertEqual(plan.blockers, [])
    }

    /// keepalived's inner address is never deleted nor re-added; other addresses still go,
    /// and a route that is not onlink is replaced by one that is.
    func testKeepalivedOwnsTheInnerAddress() throws {
        let c = try XCTUnwrap(decodeOK(try Self.example("peer-a.json")))
        var o = convergedObserved(c)
        o.routes.removeAll { $0.protocolNumber == 2 }   // no prefix route: no re-add with ha
        o.addresses.append(ObservedAddress(linkIndex: 7, prefix: IPPrefix("10.9.9.9/24")!))
        XCTAssertEqual(Planner.plan(config: c, observed: o).changes.map(\.line), [
            "- address 10.9.9.9/24 dev gp0",
            "~ route 192.168.10.0/24 via 10.129.3.7 dev gp0 onlink off -> on",
        ])
    }

    /// Without ha the outer address stays a blocker and routes stay as they were.
    func testSingleVMUnchanged() throws {
        let c = try XCTUnwrap(decodeOK(labConfigText))
        var o = baseObserved()
        o.addresses = []
        XCTAssertEqual(Planner.plan(config: c, observed: o).blockers, ["links[0].outerIpAddress: 172.31.0.254 is not configured on eth0; the tunnel could not bind to it"])
        XCTAssertEqual(Planner.plan(config: c, observed: o).notes, [])
    }

    // MARK: renders

    func testKeepalivedRender() throws {
        let c = try XCTUnwrap(decodeOK(try Self.example("peer-a.json")))
        let text = KeepalivedRender.render(c, c.ha!, gatepeer: "/usr/local/bin/gatepeer", configPath: "/etc/gatepeer/gatepeer.json")
        for line in ["    vrrp_version 3", "    enable_script_security", "    script_user root",
                     "    script \"/usr/local/bin/gatepeer health -c /etc/gatepeer/gatepeer.json\"",
                     "vrrp_sync_group gatepeer {", "        gatepeer_link_gp0", "        gatepeer_backend",
                     "    notify \"/usr/local/bin/gatepeer ha notify -c /etc/gatepeer/gatepeer.json\"",
                     "    virtual_router_id 51", "    virtual_router_id 52", "    priority 150", "    advert_int 0.1",
                     "    nopreempt", "    unicast_src_ip 172.31.0.11", "        172.31.0.12", "    unicast_fault_no_peer",
                     "        172.31.0.254/24 dev eth0", "        10.255.255.254/9 dev gp0", "        172.31.0.253/24 dev eth0",
                     "    state BACKUP", "    weight 0", "    fall 2", "    rise 2"] {
            XCTAssertTrue(text.split(separator: "\n").contains(Substring(line)), "missing \(line) in\n\(text)")
        }
        XCTAssertFalse(text.contains("notify_master_rx_lower_pri"), "only with a hook")
        XCTAssertEqual(text.components(separatedBy: "track_script").count - 1, 1, "tracked once, by the group")
        // One instance: no group (keepalived refuses a group of one), tracking in the instance.
        var one = c
        one.ha!.backend = nil
        one.ha!.hook = HAConfig.Hook(path: "/etc/gatepeer/ha/aws.sh", timeoutSeconds: 30)
        let single = KeepalivedRender.render(one, one.ha!, gatepeer: "/g", configPath: "/c.json")
        XCTAssertFalse(single.contains("vrrp_sync_group"))
        XCTAssertTrue(single.contains("    track_script {\n        gatepeer_health\n    }\n    notify \"/g ha notify -c /c.json\"\n    notify_master_rx_lower_pri \"/g ha notify -c /c.json MASTER_RX_LOWER_PRI\"\n}"), single)
        XCTAssertEqual(KeepalivedRender.seconds(1000), "1")
        XCTAssertEqual(KeepalivedRender.seconds(100), "0.1")
        XCTAssertEqual(KeepalivedRender.seconds(50), "0.05")
        XCTAssertEqual(KeepalivedRender.seconds(1230), "1.23")
        XCTAssertEqual(KeepalivedRender.seconds(40950), "40.95")
    }

    /// The whole files for both lab nodes, reviewed by eye once (keepalived and conntrackd
    /// parse them in HAKernelTests); GATEPEER_UPDATE_GOLDEN=1 rewrites them.
    func testGoldenRenders() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
        let snat = try withFilter(conntrackd: ["lockFile": "/run/gatepeer/conntrackd.lock", "socketPath": "/run/gatepeer/conntrackd.ctl"])
        for node in ["a", "b", "a-snat"] {
            let c = try XCTUnwrap(decodeOK(node == "a-snat" ? snat : try Self.example("peer-\(node).json")))
            let files = [("keepalived", KeepalivedRender.render(c, c.ha!, gatepeer: "/usr/local/bin/gatepeer", configPath: "/etc/gatepeer/gatepeer.json")),
                         ("conntrackd", ConntrackdRender.render(c, c.ha!, c.ha!.conntrackd!, configPath: "/etc/gatepeer/gatepeer.json"))]
            for (engine, text) in files {
                let golden = dir.appendingPathComponent("ha-peer-\(node)-\(engine).conf")
                if ProcessInfo.processInfo.environment["GATEPEER_UPDATE_GOLDEN"] == "1" {
                    try text.write(to: golden, atomically: true, encoding: .utf8)
                }
                XCTAssertEqual(text, try String(contentsOf: golden, encoding: .utf8), golden.lastPathComponent)
            }
        }
    }

    func testConntrackdRender() throws {
        let c = try XCTUnwrap(decodeOK(try Self.example("peer-a.json")))
        let text = ConntrackdRender.render(c, c.ha!, c.ha!.conntrackd!, configPath: "/etc/gatepeer/gatepeer.json")
        for line in ["\tMode FTFW {", "\t\tIPv4_address 172.31.0.11", "\t\tIPv4_Destination_Address 172.31.0.12",
                     "\t\tPort 3780", "\t\tInterface eth0", "\t\t\tIPv4_address 127.0.0.1", "\t\t\tIPv4_address 172.31.0.254"] {
            XCTAssertTrue(text.split(separator: "\n").contains(Substring(line)), "missing \(line) in\n\(text)")
        }
        XCTAssertFalse(text.contains("Multicast"))
    }

    // MARK: conntrackd's paths and the floating SNAT address

    /// peer-a.json with the lab's filter (netconfig/lab-filter.json) with NAT `nat`
    /// (snat to 192.0.2.9 when "snat") and `conntrackd` as ha.conntrackd.
    func withFilter(nat: String = "snat", snat: String? = "192.0.2.9", conntrackd: [String: Any]? = nil) throws -> String {
        let lab = try JSONSerialization.jsonObject(with: Data(try Self.example("../lab-filter.json").utf8)) as! [String: Any]
        return try variant { o in
            var f = lab["filter"] as! [String: Any]
            f["nat"] = nat
            if nat == "snat" { f["snatAddress"] = snat }
            o["filter"] = f
            if let conntrackd {
                var ha = o["ha"] as! [String: Any]
                ha["conntrackd"] = conntrackd
                o["ha"] = ha
            }
        }
    }

    func testConntrackdPaths() throws {
        let paths = ["port": 3781, "configPath": "/run/gp/ct.conf", "lockFile": "/run/gp/ct.lock", "socketPath": "/run/gp/ct.ctl"] as [String: Any]
        let c = try XCTUnwrap(decodeOK(try haEdit("conntrackd", paths)))
        XCTAssertEqual(c.ha?.conntrackd, HAConfig.Conntrackd(port: 3781, configPath: "/run/gp/ct.conf", lockFile: "/run/gp/ct.lock", socketPath: "/run/gp/ct.ctl"))
        let text = ConntrackdRender.render(c, c.ha!, c.ha!.conntrackd!, configPath: "/etc/gatepeer/gatepeer.json")
        XCTAssertTrue(text.contains("\tLockFile /run/gp/ct.lock\n\tUNIX {\n\t\tPath /run/gp/ct.ctl\n\t}\n"), text)
        XCTAssertTrue(text.contains("\t\tPort 3781\n"), text)
        // ha notify talks to the daemon of that file: conntrackd -C reads the socket from it.
        XCTAssertEqual(HANotifyPlan.steps(c, c.ha!, .master).first, .conntrackd(["-C", "/run/gp/ct.conf", "-c"]))
        let defaults = try XCTUnwrap(decodeOK(try haEdit("conntrackd", [:]))?.ha?.conntrackd)
        XCTAssertEqual(defaults.lockFile, "/var/lock/conntrack.lock")
        XCTAssertEqual(defaults.socketPath, "/var/run/conntrackd.ctl")
        assertProblem(try haEdit("conntrackd", ["lockFile": "run/ct.lock"]), "ha.conntrackd.lockFile", "is not usable; valid: an absolute file path")
        assertProblem(try haEdit("conntrackd", ["socketPath": "/run/a b.ctl"]), "ha.conntrackd.socketPath", "is not usable")
        assertProblem(try haEdit("conntrackd", ["socketPath": 7]), "ha.conntrackd.socketPath", "is a number")
        assertProblem(try haEdit("conntrackd", ["socketPath": "/" + String(repeating: "s", count: 120)]), "ha.conntrackd.socketPath", "is 121 bytes; valid: an absolute path of at most 107 bytes")
        assertProblem(try haEdit("conntrackd", ["lockFile": "/run/x", "socketPath": "/run/x"]), "ha.conntrackd.socketPath", "is lockFile too")
        assertProblem(try haEdit("conntrackd", ["lockfile": "/run/x"]), "ha.conntrackd.lockfile", "unknown field")
        // conntrackd would replace its config file with its socket, and could not bind the VXLAN port.
        assertProblem(try haEdit("conntrackd", ["configPath": "/run/x", "socketPath": "/run/x"]), "ha.conntrackd.socketPath", "is configPath too")
        assertProblem(try haEdit("conntrackd", ["port": 4789]), "ha.conntrackd.port", "is link gp0's VXLAN port too")
    }

    /// nat "snat" with ha: the address moves as a /32 on the uplink in the link's instance,
    /// is announced on MASTER, and is no conntrackd Ignore address.
    func testFloatingSnatAddress() throws {
        let c = try XCTUnwrap(decodeOK(try withFilter()))
        let ha = try XCTUnwrap(c.ha)
        let snat = HAConfig.VirtualAddress(prefix: IPPrefix("192.0.2.9/32")!, device: "uplink")
        XCTAssertEqual(ha.snat, snat)
        XCTAssertEqual(ha.instances(links: c.links).map(\.routerId), [51, 52], "no instance of its own")
        XCTAssertEqual(ha.instances(links: c.links).first?.addresses.last, snat)
        XCTAssertTrue(HANotifyPlan.steps(c, ha, .master).contains(.announce(snat)))
        XCTAssertTrue(HANotifyPlan.steps(c, ha, .masterReclaim).contains(.announce(snat)))
        let keepalived = KeepalivedRender.render(c, ha, gatepeer: "/g", configPath: "/c.json")
        XCTAssertTrue(keepalived.contains("        10.255.255.254/9 dev gp0\n        192.0.2.9/32 dev uplink\n    }"), keepalived)
        let conntrackd = ConntrackdRender.render(c, ha, ha.conntrackd!, configPath: "/c.json")
        XCTAssertFalse(conntrackd.contains("192.0.2.9"), conntrackd)
        XCTAssertEqual(HAConfig.failoverNotes(c.filter), [])
        // Without ha the address does not move (the filter alone keeps it as it was).
        XCTAssertNil(HAConfig.snatAddress(FilterConfig(uplinkDevice: nil, nat: .snat(IPAddress("192.0.2.9")!))))
        XCTAssertNil(decodeOK(try withFilter(nat: "masquerade"))?.ha?.snat)
        XCTAssertNil(decodeOK(try withFilter(nat: "none"))?.ha?.snat)
    }

    func testSnatAddressTakenAlready() throws {
        assertProblem(try withFilter(snat: "172.31.0.11"), "filter.snatAddress", "is ha.nodeAddress, this node's own address")
        assertProblem(try withFilter(snat: "172.31.0.12"), "filter.snatAddress", "is ha.peerAddress, the other node's own address")
        assertProblem(try withFilter(snat: "172.31.0.254"), "filter.snatAddress", "is an address of links[0], which moves already")
        assertProblem(try withFilter(snat: "172.31.0.253"), "filter.snatAddress", "is ha.backend.address, which moves already")
    }

    /// With masquerade ha render and validate note that NATed flows die in a failover.
    func testMasqueradeNote() throws {
        let c = try XCTUnwrap(decodeOK(try withFilter(nat: "masquerade")))
        let notes = HAConfig.failoverNotes(c.filter)
        XCTAssertEqual(notes.count, 1)
        for fragment in ["filter.nat is \"masquerade\"", "own address on uplink", "cannot survive a failover",
                         "set filter.nat to \"snat\" and filter.snatAddress"] {
            XCTAssertTrue(notes[0].contains(fragment), "\(fragment) not in \(notes[0])")
        }
        XCTAssertEqual(HAConfig.failoverNotes(decodeOK(try withFilter(nat: "none"))?.filter), [])
        XCTAssertEqual(HAConfig.failoverNotes(nil), [])
    }

    /// The standby does not hold the SNAT address: the plan has no blocker, warning or
    /// note about it, and the nft rule is the same on both nodes (nft's `snat to` takes an
    /// address the host does not hold), so nothing changes when the address moves.
    func testStandbyWithoutTheSnatAddress() throws {
        let c = try XCTUnwrap(decodeOK(try withFilter()))
        var o = baseObserved()
        o.links.append(ObservedLink(index: 3, name: "uplink", mtu: 1500, isUp: true))
        o.addresses = [ObservedAddress(linkIndex: 2, prefix: IPPrefix("172.31.0.11/24")!), ObservedAddress(linkIndex: 3, prefix: IPPrefix("192.0.2.1/30")!)]
        let plan = Planner.plan(config: c, observed: o)
        XCTAssertEqual(plan.blockers, [])
        XCTAssertFalse((plan.warnings + plan.notes).contains { $0.contains("192.0.2.9") || $0.contains("snat") }, "\(plan.warnings) \(plan.notes)")
        XCTAssertTrue(try XCTUnwrap(NftRenderer.render(c)).text.contains("snat ip to 192.0.2.9"))
    }

    // MARK: health

    func report(_ states: [PeerLiveness.State]) -> RuntimeReport {
        let peers = zip(["100.64.152.4", "100.64.152.132"], states).map { PeerLiveness(link: "gp0", outerIpAddress: IPAddress($0)!, probeTarget: nil, state: $1) }
        return RuntimeReport(pid: 42, startTime: 0, written: 0, counters: DaemonCounters(), peers: peers)
    }

    func testHealth() throws {
        let c = try XCTUnwrap(decodeOK(try Self.example("peer-a.json")))
        var master = convergedObserved(c)
        master.addresses.append(ObservedAddress(linkIndex: 2, prefix: IPPrefix("172.31.0.11/24")!))
        for i in master.routes.indices where master.routes[i].protocolNumber == Ownership.routeProtocol { master.routes[i].onlink = true }
        let plan = Planner.plan(config: c, observed: master)
        func judge(_ o: ObservedState, _ d: HealthCheck.Daemon, held: Double? = 60) -> HealthCheck.Verdict {
            HealthCheck.judge(config: c, observed: o, plan: Planner.plan(config: c, observed: o), daemon: d) { _ in held }
        }
        XCTAssertEqual(judge(master, .live(report([.up, .down]))).line, "healthy: gp0 master, 1/2 peers up")
        XCTAssertEqual(judge(master, .live(report([.down, .down]))),
                       .init(healthy: false, line: "not healthy: link gp0: no VPG gate peer up (100.64.152.4 down, 100.64.152.132 down)"))
        XCTAssertEqual(judge(master, .live(report([.down, .unknown])), held: 1.5).line,
                       "healthy: gp0 taking over (outer address held 1.5 s; its peers are judged within 5.0 s)")
        XCTAssertFalse(judge(master, .none).healthy)
        XCTAssertEqual(judge(master, .unbelievable("daemon pid 7 runs but its runtime report was last written 20 s ago")).line,
                       "not healthy: daemon pid 7 runs but its runtime report was last written 20 s ago")
        var standby = master
        standby.addresses.removeAll { $0.prefix == IPPrefix("172.31.0.254/24") || $0.prefix == IPPrefix("10.255.255.254/9") }
        XCTAssertEqual(judge(standby, .live(report([.down, .down]))).line,
                       "healthy: gp0 standby (outer address 172.31.0.254 not on eth0; peers are judged by the master)")
        // A standby whose underlay is down cannot take over: not healthy (keepalived holds it in FAULT).
        for (up, oper, why) in [(false, "DOWN", "administratively down"), (true, "LOWERLAYERDOWN", "operstate LOWERLAYERDOWN")] {
            var cut = standby
            let i = try XCTUnwrap(cut.links.firstIndex { $0.name == "eth0" })
            cut.links[i].isUp = up
            cut.links[i].operState = oper
            XCTAssertEqual(judge(cut, .live(report([.standby, .standby]))).line,
                           "not healthy: link gp0: underlay eth0 is down (\(why)): this node cannot carry the link")
        }
        // The hold-down after a FAULT: off by default; with it, a standby that faulted
        // 3 s ago stays unhealthy until the hold-down has passed.
        XCTAssertTrue(HealthCheck.judge(config: c, observed: standby, plan: Planner.plan(config: c, observed: standby),
                                        daemon: .live(report([.standby, .standby])), faultSeconds: 3) { _ in nil }.healthy)
        var held = c
        held.ha!.health.holdDownSeconds = 30
        func judgeHeld(_ fault: Double?) -> HealthCheck.Verdict {
            HealthCheck.judge(config: held, observed: standby, plan: Planner.plan(config: held, observed: standby),
                              daemon: .live(report([.standby, .standby])), faultSeconds: fault) { _ in nil }
        }
        XCTAssertEqual(judgeHeld(3).line, "not healthy: held down: keepalived reported FAULT 3.0 s ago; ha.health.holdDownSeconds keeps this node out for 30 s after a fault (27.0 s left)")
        XCTAssertTrue(judgeHeld(30.5).healthy)
        XCTAssertTrue(judgeHeld(nil).healthy)
        XCTAssertEqual(try XCTUnwrap(decodeOK(try haEdit("health", ["holdDownSeconds": 45]))?.ha?.health.holdDownSeconds), 45)
        XCTAssertEqual(try XCTUnwrap(decodeOK(try Self.example("peer-a.json"))?.ha?.health.holdDownSeconds), 0)
        assertProblem(try haEdit("health", ["holdDownSeconds": 3601]), "ha.health.holdDownSeconds", "0..3600")
        var deleted = master
        deleted.links.removeAll { $0.name == "gp0" }   // by hand: its routes, addresses and FDB go with it
        deleted.routes.removeAll { $0.outputIndex == 7 }
        deleted.addresses.removeAll { $0.linkIndex == 7 }
        deleted.fdb.removeAll { $0.linkIndex == 7 }
        let v = judge(deleted, .live(report([.up, .up])))
        XCTAssertFalse(v.healthy)
        XCTAssertTrue(v.line.hasPrefix("not healthy: "), v.line)
        // The line names the missing device, not only the first pending change.
        XCTAssertEqual(v.line, "not healthy: link gp0 does not exist (\(Planner.plan(config: c, observed: deleted).changes.count) change(s) pending)")
        XCTAssertTrue(plan.isEmpty)
    }

    // MARK: notify

    func testNotifySteps() throws {
        var c = try XCTUnwrap(decodeOK(try Self.example("peer-a.json")))
        c.ha!.hook = HAConfig.Hook(path: "/etc/gatepeer/ha/aws.sh", timeoutSeconds: 20)
        let ct = ["-C", "/etc/conntrackd/conntrackd.conf"]
        XCTAssertEqual(HANotifyPlan.steps(c, c.ha!, .master), [
            .conntrackd(ct + ["-c"]), .conntrackd(ct + ["-f"]), .conntrackd(ct + ["-R"]), .conntrackd(ct + ["-B"]),
            .announce(.init(prefix: IPPrefix("172.31.0.254/24")!, device: "eth0")),
            .announce(.init(prefix: IPPrefix("10.255.255.254/9")!, device: "gp0")),
            .announce(.init(prefix: IPPrefix("172.31.0.253/24")!, device: "eth0")),
            .hook(path: "/etc/gatepeer/ha/aws.sh", state: "MASTER", timeoutSeconds: 20),
        ])
        XCTAssertEqual(HANotifyPlan.steps(c, c.ha!, .backup), [
            .conntrackd(ct + ["-t"]), .conntrackd(ct + ["-n"]), .hook(path: "/etc/gatepeer/ha/aws.sh", state: "BACKUP", timeoutSeconds: 20),
        ])
        XCTAssertEqual(HANotifyPlan.steps(c, c.ha!, .masterReclaim).last, .hook(path: "/etc/gatepeer/ha/aws.sh", state: "MASTER", timeoutSeconds: 20))
        XCTAssertFalse(HANotifyPlan.steps(c, c.ha!, .masterReclaim).contains { if case .conntrackd = $0 { return true } else { return false } })
        c.ha!.conntrackd = nil
        c.ha!.hook = nil
        XCTAssertEqual(HANotifyPlan.steps(c, c.ha!, .stop), [])
    }

    func testNotifyArguments() throws {
        XCTAssertEqual(try HAState.parse(["MASTER"]), .init(state: .master))
        XCTAssertEqual(try HAState.parse(["GROUP", "gatepeer", "BACKUP", "100"]), .init(state: .backup, type: "GROUP", name: "gatepeer", priority: 100))
        XCTAssertEqual(try HAState.parse(["INSTANCE", "gatepeer_link_gp0", "FAULT"]).state, .fault)
        XCTAssertEqual(try HAState.parse(["master"]).state, .master)
        XCTAssertThrowsError(try HAState.parse(["PRIMARY"]))
        XCTAssertThrowsError(try HAState.parse(["GROUP", "g"]))
        XCTAssertThrowsError(try HAState.parse(["HOST", "g", "MASTER", "1"]))
        XCTAssertThrowsError(try HAState.parse(["GROUP", "g", "MASTER", "x"]))
        // A bad priority says what a priority may be, not the states (issue 13 review).
        XCTAssertThrowsError(try HAState.parse(["GROUP", "g", "MASTER", "256"])) { e in
            let m = (e as? HAStateError)?.message ?? ""
            XCTAssertEqual(m, "priority \"256\" is not 0..255; valid: an integer 0..255 (the priority keepalived appends: the instance's, 0 for a sync group)")
        }
        // Case: read case-insensitively (documented in ha notify's usage lines).
        XCTAssertEqual(try HAState.parse(["group", "g", "master_rx_lower_pri"]), .init(state: .masterReclaim, type: "GROUP", name: "g"))
        XCTAssertThrowsError(try HAState.parse(["Primary"])) { e in
            XCTAssertTrue(((e as? HAStateError)?.message ?? "").contains("valid: MASTER, BACKUP, FAULT, STOP, DELETED or MASTER_RX_LOWER_PRI (any case)"))
        }
    }
}
