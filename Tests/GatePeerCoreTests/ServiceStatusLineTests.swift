@testable import GatePeerCore
import XCTest

/// The line `systemctl status gatepeer` shows (sd_notify STATUS=), issue 12 item 3.
final class ServiceStatusLineTests: XCTestCase {
    func peer(_ n: Int, _ state: PeerLiveness.State) -> PeerLiveness {
        PeerLiveness(link: "gp0", outerIpAddress: IPAddress("100.64.152.\(n)")!, probeTarget: nil, state: state)
    }

    func testTheLinePeopleRead() {
        var line = ServiceStatusLine(links: 2, configuredPeers: 4, filter: true, problems: nil)
        XCTAssertEqual(line.text, "starting: first converge of 2 links")
        line.problems = []
        XCTAssertEqual(line.text, "2 links, 4 peers, filter loaded, no repairs")
        line.peers = (1...4).map { peer($0, .up) }
        line.secondsSinceRepair = 12.7
        XCTAssertEqual(line.text, "2 links, 4 peers up, filter loaded, last repair 12s ago")
        line.peers[1].state = .down
        line.peers[2].state = .unknown
        line.secondsSinceRepair = 3 * 3600 + 5
        XCTAssertEqual(line.text, "2 links, 2/4 peers up, 1 down, 1 probing, filter loaded, last repair 3h ago")
        line.problems = ["blocked: gp0: underlay device eth9 is missing", "reconcile failed: x"]
        line.reloadRefused = "1 problem(s) in /etc/gatepeer/gatepeer.json"
        XCTAssertEqual(line.text, "2 links, 2/4 peers up, 1 down, 1 probing, not converged: blocked: gp0: underlay device eth9 is missing (+1 more), "
                       + "last repair 3h ago; last reload refused: 1 problem(s) in /etc/gatepeer/gatepeer.json")
        XCTAssertEqual(ServiceStatusLine(links: 1, configuredPeers: 1, filter: false, problems: []).text, "1 link, 1 peer, no filter, no repairs")
        XCTAssertEqual(ServiceStatusLine(links: 1, configuredPeers: 1, peers: [peer(1, .unknown)], filter: true, problems: []).text,
                       "1 link, 0/1 peers up, 1 probing, filter loaded, no repairs")
        XCTAssertEqual(ServiceStatusLine(links: 1, configuredPeers: 1, peers: [peer(1, .up)], filter: true, problems: []).text,
                       "1 link, 1 peer up, filter loaded, no repairs")
    }

    /// One line for systemd, bounded: a problem quoting a newline or a long kernel message
    /// neither breaks nor floods it.
    func testOneBoundedLine() {
        let line = ServiceStatusLine(links: 1, configuredPeers: 2, filter: true,
                                     problems: ["blocked: a\nforged line " + String(repeating: "x", count: 500)]).text
        XCTAssertFalse(line.contains("\n"))
        XCTAssertEqual(line.count, ServiceStatusLine.limit)
        XCTAssertTrue(line.hasSuffix("..."))
    }

    func testAges() {
        XCTAssertEqual(ServiceStatusLine.age(0.4), "0s")
        XCTAssertEqual(ServiceStatusLine.age(119), "119s")
        XCTAssertEqual(ServiceStatusLine.age(120), "2min")
        XCTAssertEqual(ServiceStatusLine.age(7199), "119min")
        XCTAssertEqual(ServiceStatusLine.age(7200), "2h")
        XCTAssertEqual(ServiceStatusLine.age(200_000), "2d")
    }
}
