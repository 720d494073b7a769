import Foundation
import Glibc
import XCTest

/// `gatepeer ha notify` records what keepalived told it in the state directory's
/// ha-state.json before its slow steps, and `gatepeer status` shows it (text and --json),
/// in a namespace of its own shaped like peer-a (eth0 172.31.0.11/24).
final class HANotifyRecordTests: KernelTestCase {
    /// peer-a.json without conntrackd (not installed here), with a hook at `hook`.
    func config(hook: String) throws -> String {
        let example = packageRoot.appendingPathComponent("netconfig/ha/peer-a.json")
        var o = try JSONSerialization.jsonObject(with: Data(contentsOf: example)) as! [String: Any]
        var ha = o["ha"] as! [String: Any]
        ha["conntrackd"] = nil
        ha["hook"] = ["path": hook, "timeoutSeconds": 5]
        o["ha"] = ha
        return writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: o), as: UTF8.self))
    }

    /// A namespace shaped like peer-a (eth0 172.31.0.11/24, up), the state directory
    /// gatepeer uses there (KernelTestCase sets GATEPEER_STATE_DIR for every gatepeer the
    /// test runs) and a temporary directory for the hook, removed after the test.
    func node(_ stem: String) throws -> (ns: Namespace, state: String, dir: URL) {
        let ns = try makeNamespace(stem)
        ns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
        ns.ip("addr", "add", "172.31.0.11/24", "dev", "eth0")
        ns.ip("link", "set", "eth0", "up")
        let base = try XCTUnwrap(getenv("GATEPEER_STATE_DIR").map { String(cString: $0) })
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-\(stem)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return (ns, "\(base)/netns/\(ns.name)", dir)
    }

    func object(_ text: String) -> [String: Any] {
        ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]) ?? [:]
    }

    /// Before any notification status says unknown; `ha notify -c CFG GROUP gatepeer BACKUP
    /// 100` writes ha-state.json (0600) with state, type, name, priority and the time, and
    /// the hook (a slow step) already sees it; status shows it; the short form records a
    /// null type; a damaged record is reported by status, which still answers.
    func testNotifyRecordsTheStateAndStatusShowsIt() throws {
        let (ns, state, dir) = try node("har")
        let file = state + "/ha-state.json"
        let hook = dir.appendingPathComponent("hook.sh"), seen = dir.appendingPathComponent("seen")
        // The hook runs after the record: it copies what it finds.
        try "#!/bin/sh\ncat \(file) > \(seen.path) 2>&1\n".write(to: hook, atomically: true, encoding: .utf8)
        chmod(hook.path, 0o755)
        let cfg = try config(hook: hook.path)

        func status() -> (text: String, ha: [String: Any]?) {
            let t = ns.gatepeer("status", "-c", cfg).stdout
            return (t, object(ns.gatepeer("status", "--json", "-c", cfg).stdout)["ha"] as? [String: Any])
        }
        var s = status()
        XCTAssertTrue(s.text.contains("\nha: unknown (no notification yet)"), s.text)
        XCTAssertEqual(s.ha?["state"] as? String, "unknown", "\(String(describing: s.ha))")
        XCTAssertEqual(s.ha?["problem"] as? String, "no notification yet")

        let before = Date().timeIntervalSince1970
        let n = ns.gatepeer("ha", "notify", "-c", cfg, "GROUP", "gatepeer", "BACKUP", "100")
        let after = Date().timeIntervalSince1970
        XCTAssertEqual(n.status, 0, n.stderr)
        let rec = object((try? String(contentsOfFile: file, encoding: .utf8)) ?? "")
        XCTAssertEqual(rec["state"] as? String, "BACKUP", "\(rec)")
        XCTAssertEqual(rec["type"] as? String, "group")
        XCTAssertEqual(rec["name"] as? String, "gatepeer")
        XCTAssertEqual(rec["priority"] as? Int, 100)
        let time = try XCTUnwrap(rec["unixTime"] as? Double)
        XCTAssertTrue(time >= before - 0.01 && time <= after + 0.01, "recorded at \(time), not between \(before) and \(after)")
        XCTAssertTrue((rec["time"] as? String)?.hasSuffix(" UTC") == true, "\(rec)")
        var st = stat()
        XCTAssertEqual(stat(file, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600, "mode of \(file)")
        XCTAssertEqual(object((try? String(contentsOf: seen, encoding: .utf8)) ?? "")["state"] as? String, "BACKUP",
                       "the hook (run after the record) did not see it: \((try? String(contentsOf: seen, encoding: .utf8)) ?? "no file")")

        s = status()
        XCTAssertTrue(s.text.contains("\nha: BACKUP since "), s.text)
        XCTAssertTrue(s.text.contains("(group gatepeer, priority 100)"), s.text)
        XCTAssertEqual(s.ha?["state"] as? String, "BACKUP")
        XCTAssertEqual(s.ha?["priority"] as? Int, 100)
        XCTAssertEqual(s.ha?["unixTime"] as? Double, time)
        XCTAssertTrue(s.ha?["problem"] is NSNull, "\(String(describing: s.ha))")

        XCTAssertEqual(ns.gatepeer("ha", "notify", "-c", cfg, "FAULT").status, 0)
        s = status()
        XCTAssertEqual(s.ha?["state"] as? String, "FAULT")
        XCTAssertTrue(s.ha?["type"] is NSNull, "\(String(describing: s.ha))")

        try "{\"state\":".write(toFile: file, atomically: true, encoding: .utf8)
        s = status()
        XCTAssertEqual(s.ha?["state"] as? String, "unknown")
        XCTAssertEqual(s.ha?["problem"] as? String, "\(file) is damaged (not a JSON object)")
        XCTAssertTrue(s.text.contains("\nha: unknown (\(file) is damaged (not a JSON object))"), s.text)
    }

    /// keepalived runs notify scripts with stdout and stderr on /dev/null (seen in the HA
    /// lab: a hook recorded fd1 and fd2 as /dev/null), so `ha notify`'s lines were lost;
    /// they are appended to ha-notify.log in the state directory (0600) as well.
    func testNotifyLinesReachHANotifyLogWhenStderrIsDevNull() throws {
        let (ns, state, dir) = try node("hal")
        let file = state + "/ha-notify.log"
        let hook = dir.appendingPathComponent("hook.sh")
        try "#!/bin/sh\nexit 3\n".write(to: hook, atomically: true, encoding: .utf8)
        chmod(hook.path, 0o755)
        let cfg = try config(hook: hook.path)
        // As keepalived runs it: no stdout, no stderr.
        let r = ns.exec(["sh", "-c", "exec \"$0\" ha notify -c \"$1\" GROUP gatepeer BACKUP 100 >/dev/null 2>&1", gatepeerBinary, cfg])
        XCTAssertEqual(r.status, 1, "the hook failed, so notify exits 1")
        XCTAssertEqual(r.stdout + r.stderr, "", "nothing on the caller's side")
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.contains("gatepeer["), text)
        XCTAssertTrue(text.contains(": ha notify state=BACKUP type=group name=gatepeer priority=100"), text)
        XCTAssertTrue(text.contains("object=hook") && text.contains("exit=3"), "the failed hook is in the log:\n\(text)")
        var st = stat()
        XCTAssertEqual(stat(file, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600, "mode of \(file)")
        // Appended, not replaced.
        XCTAssertEqual(ns.exec(["sh", "-c", "exec \"$0\" ha notify -c \"$1\" FAULT >/dev/null 2>&1", gatepeerBinary, cfg]).status, 1)
        let again = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        XCTAssertTrue(again.hasPrefix(text) && again.contains("ha notify state=FAULT"), again)
    }
}
