import XCTest
@testable import GatePeerCore

/// The HA standby as `status`, `metrics` and the runtime report show it: which links a
/// node is the standby for (HAStandby), peers `standby` that degrade nothing, the standby
/// line, a link state that is not "unknown" for an up vxlan device, and no
/// gatepeer_peer_up sample for a peer nobody judges. Without `ha` nothing changes.
final class HAStandbyStatusTests: XCTestCase {
    /// peer-a.json's config and the kernel converged on its master (outer address held).
    func master() throws -> (GatePeerConfig, ObservedState) {
        let c = try XCTUnwrap(decodeOK(try HATests.example("peer-a.json")))
        var o = convergedObserved(c)
        o.addresses.append(ObservedAddress(linkIndex: 2, prefix: IPPrefix("172.31.0.11/24")!))
        for i in o.routes.indices where o.routes[i].protocolNumber == Ownership.routeProtocol { o.routes[i].onlink = true }
        return (c, o)
    }

    /// The same node as the standby: keepalived holds both addresses on the other node.
    func standby(_ o: ObservedState) -> ObservedState {
        var s = o
        s.addresses.removeAll { $0.prefix == IPPrefix("172.31.0.254/24") || $0.prefix == IPPrefix("10.255.255.254/9") }
        s.routes.removeAll { $0.protocolNumber == 2 }
        return s
    }

    func report(_ states: [PeerLiveness.State], sent: UInt64 = 0) -> RuntimeReport {
        let peers = zip(["100.64.152.4", "100.64.152.132"], states).map {
            PeerLiveness(link: "gp0", outerIpAddress: IPAddress($0)!, probeTarget: nil, state: $1, since: 1_700_000_000, probesSent: sent)
        }
        return RuntimeReport(pid: 42, startTime: 0, written: 0, counters: DaemonCounters(), peers: peers)
    }

    func status(_ c: GatePeerConfig, _ o: ObservedState, _ states: [PeerLiveness.State]) -> StatusReport {
        var s = StatusReport(config: c, observed: o, plan: Planner.plan(config: c, observed: o))
        s.attach(report(states))
        return s
    }

    func testWhichLinks() throws {
        let (c, o) = try master()
        XCTAssertEqual(HAStandby.links(c, o), [])
        XCTAssertEqual(HAStandby.links(c, standby(o)), ["gp0"])
        // Without ha a missing outer address is a blocker, never standby.
        let single = try XCTUnwrap(decodeOK(labConfigText))
        var none = baseObserved()
        none.addresses = []
        XCTAssertEqual(HAStandby.links(single, none), [])
        // No underlay device at all: not held.
        var noUnderlay = o
        noUnderlay.links.removeAll { $0.name == "eth0" }
        XCTAssertFalse(HAStandby.holdsOuterAddress(c.links[0], noUnderlay))
    }

    func testStandbyIsNotDegraded() throws {
        let (c, o) = try master()
        let s = status(c, standby(o), [.standby, .standby])
        XCTAssertEqual(s.degradedReasons, [])
        XCTAssertEqual(s.links.map(\.haStandby), [true])
        let text = s.text
        XCTAssertTrue(text.contains("link gp0: up (operstate unknown)\n"), text)
        XCTAssertTrue(text.contains("  peers 100.64.152.4 standby, 100.64.152.132 standby\n"), text)
        XCTAssertTrue(text.contains("  ha: this node is the HA standby for link gp0 (outer address 172.31.0.254 not on eth0: keepalived holds it on the master); its peers are not probed\n"), text)
        XCTAssertFalse(text.contains("degraded"), text)
        let json = s.json.render()
        XCTAssertTrue(json.contains(#""haStandby": true"#), json)
        XCTAssertTrue(json.contains(#""state": "standby""#), json)
        XCTAssertTrue(json.contains(#""degraded": false"#), json)
    }

    /// The kernel says standby, the daemon's report has not caught up (down): still not
    /// degraded. The same report on the master is.
    func testDownPeersOfTheStandbyDoNotDegrade() throws {
        let (c, o) = try master()
        XCTAssertEqual(status(c, standby(o), [.down, .down]).degradedReasons, [])
        let m = status(c, o, [.down, .down])
        XCTAssertEqual(m.degradedReasons, ["peer 100.64.152.4 of link gp0 down", "peer 100.64.152.132 of link gp0 down"])
        XCTAssertEqual(m.links.map(\.haStandby), [false])
        XCTAssertFalse(m.text.contains("HA standby"), m.text)
    }

    /// A standby peer shows no probe counts (they are history) and no RTT.
    func testPeerText() {
        var l = PeerLiveness(link: "gp0", outerIpAddress: IPAddress("100.64.152.4")!, probeTarget: nil, state: .standby,
                             since: 1_700_000_000, rttSeconds: 0.001, probesSent: 10, probesLost: 2)
        XCTAssertEqual(PeerStatus(address: l.outerIpAddress, liveness: l).text, "100.64.152.4 standby")
        l.state = .down
        XCTAssertEqual(PeerStatus(address: l.outerIpAddress, liveness: l).text, "100.64.152.4 down since 2023-11-14 22:13:20 UTC (2/10 probes lost)")
    }

    func testMetrics() throws {
        let (c, o) = try master()
        let text = GatePeerMetrics.render(status(c, standby(o), [.standby, .standby]), config: c, grantsActive: nil, learnedAddresses: nil)
        XCTAssertFalse(text.contains("gatepeer_peer_up{"), text)
        XCTAssertFalse(text.contains("gatepeer_peer_state_since_timestamp_seconds{"), text)
        XCTAssertTrue(text.contains(#"gatepeer_peer_standby{link="gp0",peer="100.64.152.4"} 1"#), text)
        let up = GatePeerMetrics.render(status(c, o, [.up, .down]), config: c, grantsActive: nil, learnedAddresses: nil)
        XCTAssertTrue(up.contains(#"gatepeer_peer_up{link="gp0",peer="100.64.152.4"} 1"#), up)
        XCTAssertTrue(up.contains(#"gatepeer_peer_up{link="gp0",peer="100.64.152.132"} 0"#), up)
        XCTAssertTrue(up.contains(#"gatepeer_peer_standby{link="gp0",peer="100.64.152.4"} 0"#), up)
    }

    /// runtime.json carries the state both ways; an unknown word names the valid ones.
    func testRuntimeReportRoundTrip() throws {
        let r = report([.standby, .up])
        let back = try RuntimeReport.decode(r.json.render())
        XCTAssertEqual(back.peers.map(\.state), [.standby, .up])
        let bad = r.json.render().replacingOccurrences(of: #""state": "standby""#, with: #""state": "asleep""#)
        XCTAssertThrowsError(try RuntimeReport.decode(bad)) { e in
            XCTAssertEqual("\(e)", "peers[0].state: not up, down, unknown or standby")
        }
    }
}
