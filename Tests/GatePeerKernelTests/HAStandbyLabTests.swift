import Foundation
import Glibc
import XCTest

/// The HA standby is quiet, not degraded: both nodes started the real way (`scripts/lab
/// ha up`: gatepeer with the node's config, then keepalived with what `gatepeer ha
/// render` wrote). The standby (peerb: 172.31.0.254 is on peera) sends no liveness
/// probes, shows its peers `standby`, logs no "peer down", and `status` exits 0 with the
/// standby line. When it becomes master it probes at once and its peers go up; the old
/// master, its address gone, goes quiet the same way.
final class HAStandbyLabTests: HALabTestCase {
    override class var prefixStem: String { "hsb" }

    /// `gatepeer status [--json] -c CFG` in node `n` with the node's state directory (the
    /// one its daemon and keepalived's scripts use).
    func status(_ n: String, json: Bool = true) -> Run {
        let dir = directory(n)
        return inNode(n, ["env", "GATEPEER_STATE_DIR=\(dir)/gatepeer.state", gatepeerBinary, "status"]
            + (json ? ["--json"] : []) + ["-c", dir + "/gatepeer.json"])
    }

    /// The peers of link gp0 in `status --json` of node `n`: (state, probesSent) by outer address.
    func peers(_ n: String) -> [String: (state: String, sent: Int)] {
        let doc = (try? JSONSerialization.jsonObject(with: Data(status(n).stdout.utf8))) as? [String: Any]
        let link = (doc?["links"] as? [[String: Any]])?.first { $0["name"] as? String == "gp0" }
        var out: [String: (String, Int)] = [:]
        for p in link?["peers"] as? [[String: Any]] ?? [] {
            guard let a = p["address"] as? String else { continue }
            out[a] = (p["state"] as? String ?? "?", p["probesSent"] as? Int ?? -1)
        }
        return out
    }

    func states(_ n: String) -> Set<String> { Set(peers(n).values.map(\.state)) }

    func log(_ n: String) -> String { (try? String(contentsOfFile: directory(n) + "/gatepeer.log", encoding: .utf8)) ?? "" }

    func testStandbyIsQuietAndTakesOverProbing() throws {
        for n in ["peera", "peerb"] {
            let up = ha("up", n, gatepeerBinary)
            XCTAssertEqual(up.status, 0, "ha up \(n): \(up.stderr)")
            let want = n == "peera" ? "MASTER" : "BACKUP"
            XCTAssertTrue(eventually(15) { self.vrrpState(n) == want }, "\(n) never became \(want): \(vrrpState(n))")
        }
        XCTAssertTrue(addresses("peera").contains("172.31.0.254/24"), addresses("peera"))
        XCTAssertFalse(addresses("peerb").contains("172.31.0.254/"), addresses("peerb"))
        XCTAssertTrue(eventually(10) { self.states("peera") == ["up"] }, "the master's peers up: \(peers("peera"))")

        // The standby: peers standby, status not degraded, the standby line.
        XCTAssertTrue(eventually(10) { self.states("peerb") == ["standby"] }, "peerb's peers standby: \(peers("peerb"))")
        XCTAssertEqual(peers("peerb").count, 2)
        let text = status("peerb", json: false)
        XCTAssertEqual(text.status, 0, "status on the standby: \(text.stdout)")
        XCTAssertTrue(text.stdout.contains("ha: this node is the HA standby for link gp0"), text.stdout)
        XCTAssertFalse(text.stdout.contains("degraded"), text.stdout)
        XCTAssertTrue(text.stdout.contains("link gp0: up"), text.stdout)
        let json = (try? JSONSerialization.jsonObject(with: Data(status("peerb").stdout.utf8))) as? [String: Any]
        XCTAssertEqual(json?["degraded"] as? Bool, false)
        XCTAssertEqual(((json?["links"] as? [[String: Any]])?.first?["haStandby"]) as? Bool, true)
        let dir = directory("peerb")
        let metrics = inNode("peerb", ["env", "GATEPEER_STATE_DIR=\(dir)/gatepeer.state", gatepeerBinary, "metrics", "-c", dir + "/gatepeer.json"]).stdout
        XCTAssertTrue(metrics.contains(#"gatepeer_peer_standby{link="gp0",peer="100.64.152.4"} 1"#), metrics)
        XCTAssertFalse(metrics.contains("gatepeer_peer_up{"), metrics)

        // No probes leave the standby: neither the daemon's counters nor gp0's tx move over
        // three probe intervals (1 s each). Time passing is the input here, not the assertion.
        let sent = peers("peerb").mapValues(\.sent), tx = gp0Sent("peerb")
        usleep(3_500_000)
        XCTAssertEqual(peers("peerb").mapValues(\.sent), sent, "probes sent by the standby")
        XCTAssertEqual(gp0Sent("peerb"), tx, "packets sent through the standby's gp0")
        XCTAssertEqual(states("peerb"), ["standby"])
        XCTAssertFalse(log("peerb").contains("peer down"), log("peerb"))
        XCTAssertFalse(log("peerb").contains("flushed entries"), log("peerb"))
        XCTAssertEqual(log("peerb").components(separatedBy: "HA standby: liveness paused").count - 1, 1, log("peerb"))

        // peerb becomes master: its probes start at once and its peers go up.
        let stop = ha("stop", "peera", "keepalived")
        XCTAssertEqual(stop.status, 0, stop.stderr)
        XCTAssertTrue(eventually(10) { self.vrrpState("peerb") == "MASTER" && self.addresses("peerb").contains("172.31.0.254/24") },
                      "peerb MASTER: \(vrrpState("peerb")) \(addresses("peerb"))")
        let master = Date().timeIntervalSince1970
        XCTAssertTrue(eventually(10) { self.states("peerb") == ["up"] }, "peerb's peers up after its takeover: \(peers("peerb"))")
        print("HA standby -> master: peerb's peers up \(String(format: "%.2f", Date().timeIntervalSince1970 - master)) s after it held the address (rise 3 x 1 s)")
        XCTAssertTrue(peers("peerb").values.allSatisfy { $0.sent > 0 }, "\(peers("peerb"))")
        XCTAssertEqual(status("peerb", json: false).status, 0, status("peerb", json: false).stdout)
        XCTAssertTrue(log("peerb").contains("HA master: liveness resumed"), log("peerb"))

        // peera's gatepeer still runs; its address is gone: it is the standby now.
        XCTAssertFalse(pids("peera", "gatepeer").isEmpty, "peera's gatepeer runs")
        XCTAssertTrue(eventually(10) { !self.addresses("peera").contains("172.31.0.254/") }, addresses("peera"))
        XCTAssertTrue(eventually(10) { self.states("peera") == ["standby"] }, "peera's peers standby: \(peers("peera"))")
        let a = status("peera", json: false)
        XCTAssertEqual(a.status, 0, a.stdout)
        XCTAssertTrue(a.stdout.contains("ha: this node is the HA standby for link gp0"), a.stdout)
        XCTAssertFalse(log("peera").contains("peer down"), log("peera"))
    }
}
