import Foundation
import XCTest

/// A test case that runs an IPsec lab (scripts/lib/ipsec-lab.sh): two namespaces
/// PREFIX-a and PREFIX-b with one charon each, brought up by `startLab` and torn down,
/// charons stopped by PID and namespaces deleted by exact name, in tearDown.
class IPsecLabTestCase: KernelTestCase {
    private(set) var prefix = ""
    private(set) var labDir = ""
    private let library = packageRoot.appendingPathComponent("scripts/lib/ipsec-lab.sh").path

    /// Runs bash with the lab library loaded and this test's lab selected.
    @discardableResult
    func lab(_ script: String) -> Run {
        sh(["bash", "-c", "set -euo pipefail; source \"$0\"; export IPSEC_LAB_PREFIX=\(prefix) IPSEC_LAB_DIR=\(labDir); \(script)", library])
    }

    /// Brings up the lab as gpeXXX-TAG and starts both charons; throws when there is none.
    func startLab(tag: String) throws {
        // Registered by exact name (ipsec_lab_up); scripts/test deletes it if a run dies before tearDown.
        prefix = "gpe" + String(UInt32.random(in: 0...0xfff), radix: 16).leftPadded(3) + "-" + tag
        let r = sh(["bash", "-c", "set -euo pipefail; source \"$0\"; ipsec_lab_up \(prefix) >&2; echo \"$IPSEC_LAB_DIR\"", library])
        XCTAssertEqual(r.status, 0, r.stderr)
        labDir = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        struct NoLab: Error {}
        guard !labDir.isEmpty else { XCTFail("no lab: \(r.stderr)"); throw NoLab() }
        for side in ["a", "b"] {
            // (ipsec_lab_start hands charon no descriptor beyond 0-2, so sh() sees EOF.)
            let s = lab("ipsec_lab_start \(side)")
            XCTAssertEqual(s.status, 0, "charon \(side): \(s.stderr)")
        }
    }

    override func tearDown() {
        if !labDir.isEmpty { lab("ipsec_lab_down \(prefix)") }
        super.tearDown()
    }
}

/// IPsec end to end with real strongSwan: two namespaces joined by a veth pair
/// (192.0.2.1 <-> 192.0.2.2), protected subnets 10.1.0.0/24 and 10.2.0.0/24 on their
/// loopbacks with no route between them but the tunnel, one charon per side with its own
/// /run and /etc/swanctl (scripts/lib/ipsec-lab.sh). ESP runs in kernel-libipsec.
final class IPsecLabTests: IPsecLabTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try startLab(tag: "ip")
    }

    /// A key file (0600) made by `gatepeer ipsec psk`, and a config with site "lab".
    func siteConfig(_ extra: [String: Any] = [:]) throws -> (config: String, key: String) {
        let psk = gatepeerRun("ipsec", "psk")
        XCTAssertEqual(psk.status, 0, psk.stderr)
        let key = psk.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(key.count, 48)
        let keyPath = labDir + "/lab.psk"
        XCTAssertTrue(FileManager.default.createFile(atPath: keyPath, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600]))
        var site: [String: Any] = [
            "name": "lab",
            "local": ["address": "192.0.2.1", "id": "a.lab.example", "subnets": ["10.1.0.0/24"]],
            "remote": ["address": "192.0.2.2", "id": "b.lab.example", "subnets": ["10.2.0.0/24"]],
            "psk": ["file": keyPath],
        ]
        for (k, v) in extra { site[k] = v }
        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: packageRoot.appendingPathComponent("netconfig/lab.json"))) as? [String: Any])
        doc["ipsec"] = ["sites": [site]]
        return (writeConfig(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self)), key)
    }

    func gatepeerRun(_ args: String...) -> Run { sh([gatepeerBinary] + args) }

    /// Replies a ping got ("3 packets transmitted, 2 received"); a lost packet on a busy
    /// VM is not a broken tunnel, so counters are compared with what was answered.
    func received(_ ping: Run) -> Int {
        guard let r = ping.stdout.range(of: #"(\d+) received"#, options: .regularExpression) else { return 0 }
        return Int(ping.stdout[r].split(separator: " ")[0]) ?? 0
    }

    /// Bytes and packets in and out of the CHILD_SA `child` on `side` (swanctl --list-sas).
    func childCounters(_ side: String, _ child: String) -> [Int] {
        let out = lab("ipsec_lab_exec \(side) swanctl --list-sas").stdout
        guard let start = out.range(of: "\n    \(child): ") ?? out.range(of: "  \(child): ") else { return [] }
        var numbers: [Int] = []
        for line in out[start.lowerBound...].split(separator: "\n").prefix(8) where line.contains(" bytes, ") && line.contains(" packets") {
            let words = line.split(separator: " ")
            for (i, w) in words.enumerated() where (w == "bytes," || w.hasPrefix("packets")) && i > 0 {
                if let n = Int(words[i - 1]) { numbers.append(n) }
            }
        }
        return numbers
    }

    func testOurRendersOnBothEndsEstablishTheChildSAAndPingCrossesTheTunnel() throws {
        let (config, _) = try siteConfig()
        // Our end: gatepeer ipsec apply inside side a (its /etc/swanctl is the lab's).
        let apply = lab("ipsec_lab_exec a \(gatepeerBinary) ipsec apply --site lab -c \(config)")
        XCTAssertEqual(apply.status, 0, apply.stderr + apply.stdout)
        XCTAssertTrue(apply.stdout.contains("loaded connection 'gatepeer-lab'"), apply.stdout)
        let ours = labDir + "/a/swanctl/conf.d/gatepeer-lab.conf"
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: ours)[.posixPermissions] as? Int, 0o600)

        // The other end: the remote render, loaded by that side's own swanctl.
        let render = gatepeerRun("ipsec", "render", "--site", "lab", "--format", "swanctl", "--side", "remote", "--out", labDir + "/b/swanctl/conf.d", "-c", config)
        XCTAssertEqual(render.status, 0, render.stderr)
        let load = lab("ipsec_lab_exec b swanctl --load-all")
        XCTAssertEqual(load.status, 0, load.stderr + load.stdout)
        XCTAssertTrue(load.stdout.contains("loaded connection 'gatepeer-lab'"), load.stdout)

        // start_action = trap: the policy is in place before any SA, so traffic is held,
        // never sent in the clear. (kernel-libipsec sends no acquire, so it does not start
        // the tunnel either: initiate by hand.)
        let pols = lab("ipsec_lab_exec a swanctl --list-pols --trap").stdout
        XCTAssertTrue(pols.contains("lab, TUNNEL") && pols.contains("10.2.0.0/24"), "trap policy installed: \(pols)")
        XCTAssertFalse(lab("ipsec_lab_exec a swanctl --list-sas").stdout.contains("INSTALLED"), "no CHILD_SA before initiating")
        XCTAssertNotEqual(lab("IPSEC_LAB_PING_COUNT=1 ipsec_lab_ping a 10.2.0.1 10.1.0.1").status, 0, "no tunnel, no path")
        let initiate = lab("ipsec_lab_exec a swanctl --initiate --child lab")
        XCTAssertEqual(initiate.status, 0, initiate.stderr + initiate.stdout)
        for side in ["a", "b"] {
            let w = lab("ipsec_lab_wait_child \(side) lab 30")
            XCTAssertEqual(w.status, 0, "CHILD_SA on \(side): \(w.stderr)")
        }
        let sas = lab("ipsec_lab_exec a swanctl --list-sas").stdout
        XCTAssertTrue(sas.contains("AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_384"), "the strong profile was negotiated: \(sas)")

        let before = childCounters("b", "lab")
        let ping = lab("ipsec_lab_ping a 10.2.0.1 10.1.0.1")
        XCTAssertEqual(ping.status, 0, ping.stdout + ping.stderr)
        let after = childCounters("b", "lab")
        XCTAssertEqual(before.count, 4, "in bytes/packets, out bytes/packets: \(before)")
        XCTAssertEqual(after.count, 4)
        let answered = received(ping)
        XCTAssertGreaterThanOrEqual(answered, 2, "of 3 pings: \(ping.stdout)")
        if before.count == 4, after.count == 4 {
            XCTAssertGreaterThanOrEqual(after[1] - before[1], answered, "the echo requests came in through the CHILD_SA")
            XCTAssertGreaterThanOrEqual(after[3] - before[3], answered, "the replies went out through it")
        }
    }

    func testOurEndAgainstAHandWrittenStrongSwanPeer() throws {
        let (config, key) = try siteConfig(["startAction": "start"])
        // The other side, written by hand the ordinary way: its own names and layout.
        loadHandWrittenPeer("to-gatepeer", children: [("net", "10.2.0.0/24", "10.1.0.0/24")], secret: "\"\(key)\"")

        // start_action = start: our end initiates as soon as it is loaded.
        let apply = lab("ipsec_lab_exec a \(gatepeerBinary) ipsec apply --site lab -c \(config)")
        XCTAssertEqual(apply.status, 0, apply.stderr + apply.stdout)
        XCTAssertEqual(lab("ipsec_lab_wait_child a lab 30").status, 0)
        XCTAssertEqual(lab("ipsec_lab_wait_child b net 30").status, 0)
        let ping = lab("ipsec_lab_ping b 10.1.0.1 10.2.0.1")
        XCTAssertEqual(ping.status, 0, "ping from the hand-configured side: \(ping.stdout)")
        let counters = childCounters("a", "lab")
        XCTAssertEqual(counters.count, 4, "\(counters)")
        if counters.count == 4 { XCTAssertGreaterThanOrEqual(counters[1], max(1, received(ping)), "requests came in through the CHILD_SA") }
    }

    // MARK: several subnets (issue 10 item 3)

    /// The four pairs of a two-by-two site: side a protects 10.1.0.0/24 and 10.1.1.0/24,
    /// side b 10.2.0.0/24 and 10.2.1.0/24 (the second prefixes are added to the lab's
    /// loopbacks here): (source on a, destination on b).
    static let pairs = [("10.1.0.1", "10.2.0.1"), ("10.1.0.1", "10.2.1.1"), ("10.1.1.1", "10.2.0.1"), ("10.1.1.1", "10.2.1.1")]

    /// A two-by-two site config ("childSAs" etc. in `extra`) with the second subnets up.
    func twoByTwoConfig(_ extra: [String: Any]) throws -> (config: String, key: String) {
        for (side, address) in [("a", "10.1.1.1/24"), ("b", "10.2.1.1/24")] {
            let r = lab("ipsec_lab_add_protected \(side) \(address)")
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        var site = extra
        site["local"] = ["address": "192.0.2.1", "id": "a.lab.example", "subnets": ["10.1.0.0/24", "10.1.1.0/24"]]
        site["remote"] = ["address": "192.0.2.2", "id": "b.lab.example", "subnets": ["10.2.0.0/24", "10.2.1.0/24"]]
        return try siteConfig(site)
    }

    /// Pings every pair from side a (3 echo requests each); the pairs that got a reply.
    func pairsThatPass() -> [Int] {
        Self.pairs.indices.filter { i in lab("ipsec_lab_ping a \(Self.pairs[i].1) \(Self.pairs[i].0)").status == 0 }
    }

    /// The other end configured the Fortigate/Cisco way: one child (phase 2) per subnet
    /// pair, responder only, written by hand.
    func loadPerPairRouter(key: String) {
        // Each host address is .1 of its /24.
        func net(_ host: String) -> String { host.dropLast() + "0/24" }
        loadHandWrittenPeer("fortigate-style", children: Self.pairs.enumerated().map { ("p\($0.offset + 1)", net($0.element.1), net($0.element.0)) },
                            secret: "\"\(key)\"")
    }

    /// Side b configured by hand in the ordinary strongSwan style, as a responder with its
    /// own names: connection `name` to a.lab.example with `children` (name, local_ts,
    /// remote_ts) and `secret`, a swanctl.conf value as a person would type it.
    func loadHandWrittenPeer(_ name: String, children: [(String, String, String)], secret: String) {
        let blocks = children.map { child, local, remote in
            """
                        \(child) {
                            local_ts = \(local)
                            remote_ts = \(remote)
                            esp_proposals = aes256gcm16-ecp384
                        }
            """
        }.joined(separator: "\n")
        let conf = """
        connections {
            \(name) {
                remote_addrs = 192.0.2.1
                proposals = aes256gcm16-prfsha384-ecp384
                local {
                    auth = psk
                    id = b.lab.example
                }
                remote {
                    auth = psk
                    id = a.lab.example
                }
                children {
        \(blocks)
                }
            }
        }
        secrets {
            ike-1 {
                id-1 = a.lab.example
                id-2 = b.lab.example
                secret = \(secret)
            }
        }

        """
        XCTAssertNoThrow(try conf.write(toFile: labDir + "/b/swanctl/conf.d/\(name).conf", atomically: true, encoding: .utf8))
        let load = lab("ipsec_lab_exec b swanctl --load-all")
        XCTAssertEqual(load.status, 0, load.stderr + load.stdout)
        XCTAssertTrue(load.stdout.contains("loaded connection '\(name)'"), load.stdout)
    }

    /// The issue's example: a two-by-two site in the default (combined) shape against a
    /// router with one phase 2 per pair. The router narrows our one CHILD_SA to one pair
    /// and the other three lose every packet; lint and the sheet must say so.
    func testCombinedShapeAgainstAPerPairRouterIsNarrowedToOnePairAndLintWarns() throws {
        let (config, key) = try twoByTwoConfig(["startAction": "start"])
        let lint = gatepeerRun("ipsec", "lint", "-c", config)
        XCTAssertTrue(lint.stdout.contains("warning: ipsec.sites[0].childSAs: combined") && lint.stdout.contains("perPair"), "lint: \(lint.stdout)")
        let sheet = gatepeerRun("ipsec", "render", "--site", "lab", "--format", "sheet", "--side", "remote", "-c", config)
        XCTAssertTrue(sheet.stdout.contains("ONE child SA") && sheet.stdout.contains("do not configure one phase 2 per subnet pair"), sheet.stdout)

        loadPerPairRouter(key: key)
        let apply = lab("ipsec_lab_exec a \(gatepeerBinary) ipsec apply --site lab -c \(config)")
        XCTAssertEqual(apply.status, 0, apply.stderr + apply.stdout)
        XCTAssertEqual(lab("ipsec_lab_wait_child a lab 30").status, 0)
        let passing = pairsThatPass()
        XCTAssertEqual(passing.count, 1, "narrowed to one pair; passing: \(passing)")
    }

    /// The fix for that router: "childSAs": "perPair" makes one CHILD_SA per pair, and
    /// a ping from a host in each local subnet to each remote subnet crosses the tunnel.
    func testPerPairShapeAgainstAPerPairRouterCarriesEveryPair() throws {
        let (config, key) = try twoByTwoConfig(["startAction": "start", "childSAs": "perPair"])
        let sheet = gatepeerRun("ipsec", "render", "--site", "lab", "--format", "sheet", "--side", "remote", "-c", config)
        XCTAssertEqual(sheet.status, 0, sheet.stderr)
        XCTAssertTrue(sheet.stdout.contains("configure 4 phase 2 entries") && sheet.stdout.contains("local 10.2.1.0/24 <-> remote 10.1.1.0/24"), sheet.stdout)
        loadPerPairRouter(key: key)
        let apply = lab("ipsec_lab_exec a \(gatepeerBinary) ipsec apply --site lab -c \(config)")
        XCTAssertEqual(apply.status, 0, apply.stderr + apply.stdout)
        for i in 1...4 { XCTAssertEqual(lab("ipsec_lab_wait_child a lab-\(i) 30").status, 0, "lab-\(i)") }
        XCTAssertEqual(pairsThatPass(), [0, 1, 2, 3])
    }

    /// Our renders on both ends, in each shape: every pair passes.
    func assertOurRendersCarryEveryPair(_ shape: String, children: [String]) throws {
        let (config, _) = try twoByTwoConfig(shape == "combined" ? [:] : ["childSAs": shape])  // combined: the default
        let apply = lab("ipsec_lab_exec a \(gatepeerBinary) ipsec apply --site lab -c \(config)")
        XCTAssertEqual(apply.status, 0, apply.stderr + apply.stdout)
        let render = gatepeerRun("ipsec", "render", "--site", "lab", "--format", "swanctl", "--side", "remote", "--out", labDir + "/b/swanctl/conf.d", "-c", config)
        XCTAssertEqual(render.status, 0, render.stderr)
        XCTAssertEqual(lab("ipsec_lab_exec b swanctl --load-all").status, 0)
        for child in children {
            let initiate = lab("ipsec_lab_exec a swanctl --initiate --child \(child)")
            XCTAssertEqual(initiate.status, 0, initiate.stderr + initiate.stdout)
            XCTAssertEqual(lab("ipsec_lab_wait_child a \(child) 30").status, 0, child)
        }
        XCTAssertEqual(pairsThatPass(), [0, 1, 2, 3], shape)
    }

    func testCombinedShapeOnBothEndsCarriesEveryPair() throws {
        try assertOurRendersCarryEveryPair("combined", children: ["lab"])
    }

    func testPerPairShapeOnBothEndsCarriesEveryPair() throws {
        try assertOurRendersCarryEveryPair("perPair", children: ["lab-1", "lab-2", "lab-3", "lab-4"])
    }

    // MARK: key files (issue 10 item 4)

    /// The "Pre-shared key" row of a sheet.
    func sheetKey(_ config: String) -> String? {
        let sheet = gatepeerRun("ipsec", "render", "--site", "lab", "--format", "sheet", "--side", "remote", "-c", config)
        XCTAssertEqual(sheet.status, 0, sheet.stderr)
        let prefix = "Pre-shared key"
        guard let line = sheet.stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        return String(line.dropFirst(prefix.count).drop(while: { $0 == " " }))
    }

    /// The other end is given the key as the sheet shows it and types it into its own
    /// swanctl.conf, quoted by strongSwan's rules ("..." with \" and \\); our end gets
    /// `gatepeer ipsec apply`. The CHILD_SA must come up and carry a ping.
    func assertRemoteWithTheVisibleKeyAuthenticates(_ config: String, visibleKey: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(sheetKey(config), visibleKey, "the sheet shows the key as text", file: file, line: line)
        let typed = "\"" + visibleKey.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        loadHandWrittenPeer("to-gatepeer", children: [("net", "10.2.0.0/24", "10.1.0.0/24")], secret: typed)
        let apply = lab("ipsec_lab_exec a \(gatepeerBinary) ipsec apply --site lab -c \(config)")
        XCTAssertEqual(apply.status, 0, apply.stderr + apply.stdout, file: file, line: line)
        XCTAssertEqual(lab("ipsec_lab_wait_child a lab 30").status, 0, "authenticated with the visible key", file: file, line: line)
        XCTAssertEqual(lab("ipsec_lab_ping a 10.2.0.1 10.1.0.1").status, 0, file: file, line: line)
    }

    /// A key with '!', '#', '$', spaces, quotes and a backslash: our render writes it as
    /// quoted text, and a charon given the same text authenticates.
    func testPrintableKeyWithShellAndQuoteCharactersAuthenticatesAsText() throws {
        let visible = #"Lab key !#$ with "double" and 'single' quotes, \ and {braces} 2026"#
        let (config, _) = try siteConfig(["startAction": "start"])
        try Data((visible + "\n").utf8).write(to: URL(fileURLWithPath: labDir + "/lab.psk"))
        let render = gatepeerRun("ipsec", "render", "--site", "lab", "--format", "swanctl", "--side", "local", "-c", config)
        XCTAssertTrue(render.stdout.contains(#"secret = "Lab key !#$ with \"double\" and 'single' quotes, \\ and {braces} 2026""#), render.stdout)
        assertRemoteWithTheVisibleKeyAuthenticates(config, visibleKey: visible)
    }

    /// The issue's example: a key file saved by a Windows editor (UTF-8 BOM, CRLF). lint
    /// names the field and what was dropped; the remote router, given the visible key,
    /// authenticates.
    func testWindowsEditorKeyFileAuthenticatesWithTheVisibleKeyAndLintSaysWhatWasDropped() throws {
        let (config, key) = try siteConfig(["startAction": "start"])
        try Data([0xEF, 0xBB, 0xBF] + Array(key.utf8) + [0x0D, 0x0A]).write(to: URL(fileURLWithPath: labDir + "/lab.psk"))
        let lint = gatepeerRun("ipsec", "lint", "-c", config)
        XCTAssertEqual(lint.status, 0, lint.stdout + lint.stderr)
        XCTAssertTrue(lint.stdout.contains("warning: ipsec.sites[0].psk.file") && lint.stdout.contains("byte order mark"), lint.stdout)
        XCTAssertTrue(lint.stdout.contains("CRLF"), lint.stdout)
        assertRemoteWithTheVisibleKeyAuthenticates(config, visibleKey: key)
    }

    func testLibreswanAcceptsOurRendersAndTheCheckCanFail() throws {
        let (config, _) = try siteConfig(["overlapsDevicesIntended": true])
        for side in ["local", "remote"] {
            let out = labDir + "/libreswan-\(side)"
            let r = gatepeerRun("ipsec", "render", "--site", "lab", "--format", "libreswan", "--side", side, "--out", out, "-c", config)
            XCTAssertEqual(r.status, 0, r.stderr)
            let check = lab("libreswan_check_config \(out)/gatepeer-lab.conf")
            XCTAssertEqual(check.status, 0, "libreswan refused our \(side) render: \(check.stdout)\(check.stderr)")
        }
        // Several subnets, one Child SA per pair: leftsubnets=/rightsubnets= as libreswan reads them.
        let (pairs, _) = try twoByTwoConfig(["childSAs": "perPair", "overlapsDevicesIntended": true])
        let r = gatepeerRun("ipsec", "render", "--site", "lab", "--format", "libreswan", "--side", "remote", "--out", labDir + "/libreswan-pairs", "-c", pairs)
        XCTAssertEqual(r.status, 0, r.stderr)
        let check = lab("libreswan_check_config \(labDir)/libreswan-pairs/gatepeer-lab.conf")
        XCTAssertEqual(check.status, 0, "libreswan refused our per-pair render: \(check.stdout)\(check.stderr)")
        XCTAssertTrue(try String(contentsOfFile: labDir + "/libreswan-pairs/gatepeer-lab.conf", encoding: .utf8).contains("leftsubnets={10.2.0.0/24,10.2.1.0/24}"))
        // The same file with a misspelt algorithm: the check must say no.
        let bad = labDir + "/bad.conf"
        let good = try String(contentsOfFile: labDir + "/libreswan-local/gatepeer-lab.conf", encoding: .utf8)
        try good.replacingOccurrences(of: "aes_gcm256-sha2_384;dh20", with: "aes_gcm256-sha2_384;dh99").write(toFile: bad, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(lab("libreswan_check_config \(bad)").status, 0)
    }

    func testRenderWritesKeysPrivateTouchesNothingElseAndRefusesAnOpenKeyFile() throws {
        let (config, _) = try siteConfig()
        let out = labDir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try "keep me\n".write(toFile: out + "/unrelated.conf", atomically: true, encoding: .utf8)
        let r = gatepeerRun("ipsec", "render", "--site", "lab", "--format", "strongswan-legacy", "--side", "local", "--out", out, "-c", config)
        XCTAssertEqual(r.status, 0, r.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        XCTAssertEqual(files, ["ipsec.conf", "ipsec.secrets", "unrelated.conf"])
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: out + "/ipsec.secrets")[.posixPermissions] as? Int, 0o600)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: out + "/ipsec.conf")[.posixPermissions] as? Int, 0o644)
        XCTAssertEqual(try String(contentsOfFile: out + "/unrelated.conf", encoding: .utf8), "keep me\n")

        // A key file others can read: refused, nothing written.
        XCTAssertEqual(chmod(labDir + "/lab.psk", 0o644), 0)
        let out2 = labDir + "/out2"
        let refused = gatepeerRun("ipsec", "render", "--site", "lab", "--format", "swanctl", "--side", "local", "--out", out2, "-c", config)
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("ipsec.sites[0].psk.file") && refused.stderr.contains("mode 644"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out2))
        let lint = gatepeerRun("ipsec", "lint", "-c", config)
        XCTAssertEqual(lint.status, 2)
        XCTAssertTrue(lint.stdout.contains("error: ipsec.sites[0].psk.file"), lint.stdout)
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
