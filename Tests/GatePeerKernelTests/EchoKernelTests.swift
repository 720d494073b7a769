import Foundation
import Glibc
import XCTest

/// Values echoed from the kernel and into the daemon's log are escaped and bounded
/// (issue 10 item 7): a device name or alias set by someone else, and a config given
/// to a running daemon, are input like any other.
final class EchoKernelTests: KernelTestCase {
    /// A device whose name and alias carry terminal escapes: gatepeer names it (a
    /// look-alike warning) without letting the escapes through.
    func testNamesAndAliasesFromTheKernelAreShownEscaped() throws {
        let ns = try makePeerNamespace()
        let name = "x\u{1b}[2J"  // the kernel takes ESC in a name (not '/', ':' or spaces)
        ns.ip("link", "add", name, "type", "bridge")
        ns.ip("link", "set", name, "alias", "gatepeer:\u{1b}]0;owned\u{7}\u{202e}")
        let cfg = packageRoot.appendingPathComponent("netconfig/lab.json").path
        for args in [["plan", "-c", cfg], ["down"]] {
            let r = ns.exec([gatepeerBinary] + args)
            XCTAssertTrue(r.stderr.contains(#"link x\u001b[2J (kind bridge) has alias "gatepeer:\u001b]0;owned\u0007\u202e""#), "\(args): \(r.stderr)")
            for raw: Unicode.Scalar in ["\u{1b}", "\u{7}", "\u{202e}"] {
                XCTAssertFalse((r.stdout + r.stderr).unicodeScalars.contains(raw), "\(args): raw U+\(String(raw.value, radix: 16))")
            }
        }
    }

    /// SIGHUP with a config whose name is 12 MiB and whose key has ESC: the daemon keeps
    /// running and logs short, escaped lines.
    func testTheDaemonsReloadLogIsShortAndEscaped() throws {
        let ns = try makePeerNamespace()
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-echo-\(UUID().uuidString.prefix(8))")
        let log = state.appendingPathExtension("log")
        defer { try? FileManager.default.removeItem(at: state); try? FileManager.default.removeItem(at: log) }
        let cfg = writeConfig(try String(contentsOf: packageRoot.appendingPathComponent("netconfig/lab.json"), encoding: .utf8))
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let out = try FileHandle(forWritingTo: log)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // ip netns exec execs gatepeer: the pid is the daemon's.
        p.arguments = ["ip", "netns", "exec", ns.name, "env", "GATEPEER_STATE_DIR=\(state.path)", gatepeerBinary, "run", "-c", cfg, "--resync", "60"]
        p.standardOutput = out
        p.standardError = out
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGTERM); p.waitUntilExit() } }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        XCTAssertTrue(eventually(20) { ns.exec(["ip", "link", "show", "gp0"]).status == 0 }, "daemon did not apply: \(logText())")
        let before = logText().utf8.count

        let hostile = #"{"links":[{"name":""# + String(repeating: "a", count: 12 << 20)
            + #"","underlayDevice":"eth0","outerIpAddress":"172.31.0.254","innerIpAddress":"10.255.255.254/9","peers":[{"outerIpAddress":"100.64.152.4"}],"mtu\u001b[2J":1}]}"#
        try hostile.write(toFile: cfg, atomically: true, encoding: .utf8)
        kill(p.processIdentifier, SIGHUP)
        XCTAssertTrue(eventually(20) { logText().contains("keeping the running config") }, String(logText().suffix(2000)))
        XCTAssertTrue(p.isRunning, "a bad config must not stop the service")
        let added = logText().utf8.count - before
        XCTAssertLessThan(added, 4096, "the reload added \(added) bytes of log")
        XCTAssertFalse(logText().unicodeScalars.contains("\u{1b}"), "raw ESC in the log")
        XCTAssertTrue(logText().contains(#"links[0].mtu\u001b[2J: unknown field"#), String(logText().suffix(2000)))
        XCTAssertTrue(logText().contains("... (12582912 bytes)"), String(logText().suffix(2000)))
    }
}
