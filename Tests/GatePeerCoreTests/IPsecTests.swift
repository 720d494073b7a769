import Foundation
import XCTest
@testable import GatePeerCore

final class IPsecTests: XCTestCase {
    /// A config with one link (device subnet 10.128.0.0/9) and one site; `site` is merged
    /// over a valid default site.
    static func config(_ site: [String: Any] = [:]) -> String {
        var s: [String: Any] = [
            "name": "hq",
            "local": ["address": "192.0.2.1", "id": "gw1.example.net", "subnets": ["10.128.0.0/9"]],
            "remote": ["address": "198.51.100.7", "id": "198.51.100.7", "subnets": ["192.168.50.0/24"]],
            "psk": ["file": "/etc/gatepeer/hq.psk"],
            "overlapsDevicesIntended": true,
        ]
        for (k, v) in site { s[k] = v is NSNull ? nil : v }  // NSNull: leave the field out
        let doc: [String: Any] = [
            "links": [["name": "gp0", "vxlanId": 10, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254",
                       "innerIpAddress": "10.255.255.254/9", "peers": [["outerIpAddress": "100.64.152.4", "innerIpAddress": "10.255.255.1"]]]],
            "ipsec": ["sites": [s]],
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys]), as: UTF8.self)
    }

    func site(_ overrides: [String: Any] = [:]) throws -> IPsecSite {
        switch ConfigDecoder.decode(Self.config(overrides)) {
        case .success(let c): return try XCTUnwrap(c.ipsec?.sites.first)
        case .failure(let e): XCTFail("\(e)"); throw e
        }
    }

    /// The problems of a config, as "path: message" lines.
    func problems(_ overrides: [String: Any]) -> [String] {
        switch ConfigDecoder.decode(Self.config(overrides)) {
        case .success: return []
        case .failure(let e): return e.problems.map(\.description)
        }
    }

    func assertProblem(_ overrides: [String: Any], _ path: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        let p = problems(overrides)
        XCTAssertTrue(p.contains { $0.hasPrefix(path + ":") && $0.contains(fragment) }, "wanted \(path): ...\(fragment)... in \(p)", file: file, line: line)
    }

    /// Issue 12 item 4: no secret reaches a log. A key pasted where its file belongs (the
    /// daemon logs a refused reload's problems to the journal) is named, never echoed; a
    /// path that is one is still shown.
    func testAKeyPastedInPlaceOfItsFileIsNotEchoed() {
        let secret = "0sSup3rS3cretPSKvalue"
        for auth: [String: Any] in [["psk": ["file": secret]], ["psk": secret], ["psk": ["file": secret + " "]],
                                    ["certificate": ["cert": secret, "key": secret, "ca": secret]]] {
            let p = problems(auth)
            XCTAssertFalse(p.isEmpty, "\(auth)")
            XCTAssertFalse(p.joined(separator: "\n").contains("Sup3rS3cret"), "\(p)")
        }
        assertProblem(["psk": ["file": secret]], "ipsec.sites[0].psk.file", "is not an absolute path (the value is not shown")
        assertProblem(["psk": ["file": "/etc/gatepeer/hq psk"]], "ipsec.sites[0].psk.file", "\"/etc/gatepeer/hq psk\" is not an absolute path")
    }

    /// Issue 11: a field refused for its own value is not also reported as missing
    /// (`route.ifId: 0` gave "out of range" and "is required in route mode").
    func testRefusedIfIdIsNotAlsoRequired() {
        XCTAssertEqual(problems(["mode": "route", "route": ["ifId": 0]]), ["ipsec.sites[0].route.ifId: 0 is out of range; valid: 1..4294967295"])
        XCTAssertEqual(problems(["mode": "route", "route": "x"]).count, 1, "\(problems(["mode": "route", "route": "x"]))")
        assertProblem(["mode": "route", "route": [:] as [String: Any]], "ipsec.sites[0].route.ifId", "is required in route mode")
    }

    func testDefaultsAreTheStrongProfileTrapAndCommonLifetimes() throws {
        let s = try site()
        XCTAssertEqual(s.ikeVersion, 2)
        XCTAssertEqual(s.effectiveIKE, ["aes256gcm16-prfsha384-ecp384"])
        XCTAssertEqual(s.effectiveESP, ["aes256gcm16-ecp384"])
        XCTAssertEqual(s.startAction, .trap)
        XCTAssertEqual([s.ikeLifetime, s.childLifetime, s.dpdDelay, s.dpdTimeout], [28800, 3600, 10, 30])
        XCTAssertEqual([s.mtu, s.effectiveMSS], [1436, 1396])
        let c = try site(["profile": "compatible"])
        XCTAssertEqual(c.effectiveIKE.first, "aes256-sha256-modp2048")
        XCTAssertTrue(IPsecLint.check(c, path: "x", deviceSubnets: []).allSatisfy { $0.severity != .error }, "the compatible profile is not weak")
    }

    func testWeakAlgorithmsAreRefusedUnlessAllowedThenWarnedOneByOne() throws {
        for (proposal, why) in [("3des-sha256-modp2048", "3DES"), ("aes256-md5-modp2048", "MD5"), ("aes256-sha1-modp2048", "SHA-1 as PRF"),
                                ("aes256-sha256-prfsha1-modp2048", "SHA-1 as PRF"), ("aes256-sha256-modp1024", "MODP-1024"),
                                ("aes256-sha256-modp1536", "MODP-1536"), ("aes256-sha256-ecp192", "ECP-192"), ("des-sha256-modp2048", "DES")] {
            assertProblem(["ikeProposals": [proposal]], "ipsec.sites[0].ikeProposals[0]", why)
            assertProblem(["ikeProposals": [proposal]], "ipsec.sites[0].ikeProposals[0]", "allowWeak")
        }
        let weak = try site(["ikeProposals": ["3des-md5-modp1024"], "allowWeak": true])
        let warnings = IPsecLint.check(weak, path: "s", deviceSubnets: []).filter { $0.severity == .warning }
        XCTAssertEqual(warnings.count, 4, "3DES, MD5, MD5 as PRF and MODP-1024, each on its own: \(warnings)")
        XCTAssertTrue(warnings.allSatisfy { $0.message.contains("allowed by allowWeak") })
        // ESP may use HMAC-SHA1 as integrity (RFC 8221): no finding.
        XCTAssertTrue(IPsecLint.checkProposal("aes256-sha1-modp2048", ike: false).weak.isEmpty)
    }

    func testProposalShapeErrors() {
        assertProblem(["ikeProposals": ["aes256gcm16-ecp384"]], "ipsec.sites[0].ikeProposals[0]", "AEAD without a PRF")
        assertProblem(["ikeProposals": ["aes256-sha256-modp2048-rot13"]], "ipsec.sites[0].ikeProposals[0]", "unknown keyword \"rot13\"")
        assertProblem(["ikeProposals": ["AES256-sha256-modp2048"]], "ipsec.sites[0].ikeProposals[0]", "unknown keyword \"AES256\"")
        assertProblem(["ikeProposals": ["aes256-sha256"]], "ipsec.sites[0].ikeProposals[0]", "no key exchange")
        assertProblem(["espProposals": ["aes256gcm16-sha256"]], "ipsec.sites[0].espProposals[0]", "integrity algorithm with AEAD")
        assertProblem(["espProposals": ["aes256-prfsha256"]], "ipsec.sites[0].espProposals[0]", "PRF")
        assertProblem(["espProposals": []], "ipsec.sites[0].espProposals", "is empty")
        assertProblem(["ikeVersion": 1], "ipsec.sites[0].ikeVersion", "legacyIKEv1")
        assertProblem(["ikeVersion": 1, "legacyIKEv1": true], "ipsec.sites[0].ikeVersion", "allowWeak")
        XCTAssertEqual(problems(["ikeVersion": 1, "legacyIKEv1": true, "allowWeak": true]), [])
    }

    /// The issue's example: an IKEv1 site without legacyIKEv1 and with a weak proposal
    /// reports the version AND every weak algorithm in one run; so does any site whose
    /// problems are in other fields (siblings of the same early return).
    /// A broken link or a filter that does not compile does not hide the sites' proposal
    /// problems until it is fixed (crossCheck does not run then).
    func testABrokenLinkOrFilterDoesNotHideTheSitesProblems() {
        let weakSite = Self.config(["ikeProposals": ["3des-sha1-modp1024"]])
        for (broken, path) in [("\"mtu\":", "links[0].mtu"), ("\"links\":", "filter")] {
            let text = broken == "\"links\":"
                ? weakSite.replacingOccurrences(of: "\"links\":", with: "\"filter\": {\"rules\": [{\"action\": \"permit\"}]}, \"links\":")
                : weakSite.replacingOccurrences(of: "\"name\":\"gp0\"", with: "\"mtu\":10,\"name\":\"gp0\"")
            guard case .failure(let e) = ConfigDecoder.decode(text) else { XCTFail("\(path): decoded"); continue }
            let lines = e.problems.map(\.description)
            XCTAssertTrue(lines.contains { $0.hasPrefix(path) }, "\(path) in \(lines)")
            XCTAssertTrue(lines.contains { $0.hasPrefix("ipsec.sites[0].ikeProposals[0]:") && $0.contains("3DES") }, "the site's proposal with \(path): \(lines)")
        }
    }

    func testEveryProblemOfASiteInOneRun() {
        let weak = ["3des-sha1-modp1024"]
        let v1 = problems(["ikeVersion": 1, "ikeProposals": weak])
        XCTAssertEqual(v1.filter { $0.hasPrefix("ipsec.sites[0].ikeVersion:") }.count, 1, "one message for the version: \(v1)")
        XCTAssertTrue(v1.contains { $0.hasPrefix("ipsec.sites[0].ikeVersion:") && $0.contains("legacyIKEv1") }, "\(v1)")
        for why in ["3DES", "MODP-1024", "SHA-1 as PRF"] {
            XCTAssertTrue(v1.contains { $0.hasPrefix("ipsec.sites[0].ikeProposals[0]:") && $0.contains(why) }, "\(why) in \(v1)")
        }
        // Other fields' problems do not hide the proposals' either.
        let others: [(String, [String: Any])] = [
            ("ipsec.sites[0].childLifetime", ["childLifetime": 30000]),
            ("ipsec.sites[0].dpd.timeout", ["dpd": ["delay": 20, "timeout": 30]]),
            ("ipsec.sites[0].route.ifId", ["mode": "route"]),
            ("ipsec.sites[0].route", ["route": ["ifId": 7]]),
            ("ipsec.sites[0].remote.address", ["remote": ["address": "2001:db8::7", "subnets": ["192.168.50.0/24"]]]),
            ("ipsec.sites[0].remote.subnets[0]", ["remote": ["address": "198.51.100.7", "subnets": ["192.168.50.1/24"]]]),
            ("ipsec.sites[0].local.id", ["local": ["address": "192.0.2.1", "id": "gw\"1", "subnets": ["10.128.0.0/9"]]]),
            ("ipsec.sites[0].startAction", ["startAction": "always"]),
            ("ipsec.sites[0]", ["psk": NSNull()]),
            ("ipsec.sites[0].espProposals[1]", ["espProposals": ["aes256-sha256-modp2048", 5]]),
        ]
        for (path, fields) in others {
            var site = fields
            site["ikeProposals"] = weak
            let p = problems(site)
            XCTAssertTrue(p.contains { $0.hasPrefix(path + ":") }, "\(path) in \(p)")
            XCTAssertTrue(p.contains { $0.hasPrefix("ipsec.sites[0].ikeProposals[0]:") && $0.contains("3DES") }, "with \(path): \(p)")
        }
        // An unknown keyword does not hide the weak ones of the same proposal.
        let mixed = IPsecLint.checkProposal("3des-sha1-modp1024-rot13", ike: true)
        XCTAssertTrue(mixed.errors.contains { $0.contains("rot13") })
        XCTAssertEqual(mixed.weak.count, 2, "3DES and MODP-1024 (whether sha1 is the PRF depends on the unknown keyword): \(mixed.weak)")
        // A site that cannot be built does not hide another site's problems.
        let two = Self.config(["ikeProposals": weak]).replacingOccurrences(of: "\"sites\":[", with: "\"sites\":[{\"name\":\"broken\"},")
        guard case .failure(let e) = ConfigDecoder.decode(two) else { return XCTFail("decoded") }
        XCTAssertTrue(e.problems.contains { $0.path == "ipsec.sites[1].ikeProposals[0]" && $0.message.contains("3DES") }, "\(e.problems)")
    }

    func testSelectorsAndDeviceSubnets() {
        assertProblem(["local": ["address": "192.0.2.1", "subnets": []]], "ipsec.sites[0].local.subnets", "is empty")
        assertProblem(["remote": ["address": "198.51.100.7", "subnets": ["10.200.0.0/16"]]], "ipsec.sites[0].remote.subnets[0]", "overlaps local.subnets[0]")
        assertProblem(["remote": ["address": "198.51.100.7", "subnets": ["192.168.0.0/16", "192.168.50.0/24"]]], "ipsec.sites[0].remote.subnets[1]", "overlaps 192.168.0.0/16")
        assertProblem(["overlapsDevicesIntended": false], "ipsec.sites[0].local.subnets[0]", "device subnet 10.128.0.0/9 of link gp0")
        assertProblem(["remote": ["address": "198.51.100.7", "subnets": ["192.168.50.1/24"]]], "ipsec.sites[0].remote.subnets[0]", "host bits")
        assertProblem(["remote": ["address": "2001:db8::7", "subnets": ["192.168.50.0/24"]]], "ipsec.sites[0].remote.address", "same family")
        assertProblem(["mode": "route"], "ipsec.sites[0].route.ifId", "required in route mode")
        assertProblem(["childLifetime": 30000], "ipsec.sites[0].childLifetime", "shorter than ikeLifetime")
        assertProblem(["dpd": ["delay": 20, "timeout": 30]], "ipsec.sites[0].dpd.timeout", "3 x delay")
        assertProblem(["mss": 1400], "ipsec.sites[0].mss", "does not fit the tunnel MTU 1436")
        assertProblem(["startAction": "always"], "ipsec.sites[0].startAction", "valid: trap")
    }

    /// Several subnets: the shape is the site's choice, named in every render, and the
    /// combined shape with more than one pair is a lint warning.
    func testChildSAShapes() throws {
        let twoByTwo: [String: Any] = ["local": ["address": "192.0.2.1", "subnets": ["10.128.0.0/9", "172.16.0.0/24"]],
                                       "remote": ["address": "198.51.100.7", "subnets": ["192.168.50.0/24", "192.168.51.0/24"]]]
        assertProblem(["childSAs": "perSubnet"], "ipsec.sites[0].childSAs", "valid: combined")
        let combined = try site(twoByTwo)
        XCTAssertEqual(combined.childSAs, .combined, "the default")
        XCTAssertEqual(combined.subnetPairs.count, 4)
        let warning = IPsecLint.check(combined, path: "ipsec.sites[0]", deviceSubnets: []).filter { $0.path == "ipsec.sites[0].childSAs" }
        XCTAssertEqual(warning.map(\.severity), [.warning], "\(warning)")
        XCTAssertTrue(warning.first?.message.contains("narrows it to one pair") ?? false)
        XCTAssertTrue(IPsecLint.check(try site(), path: "p", deviceSubnets: []).allSatisfy { $0.path != "p.childSAs" }, "one pair: no shape to choose")

        var perPairSite = twoByTwo
        perPairSite["childSAs"] = "perPair"
        let perPair = try site(perPairSite)
        XCTAssertTrue(IPsecLint.check(perPair, path: "p", deviceSubnets: []).isEmpty)
        // perPair grows with the product of the lists: 9 x 8 = 72 CHILD_SAs is refused.
        let many: [String: Any] = ["childSAs": "perPair",
                                   "local": ["address": "192.0.2.1", "subnets": (0..<9).map { "10.\($0 + 1).0.0/16" }],
                                   "remote": ["address": "198.51.100.7", "subnets": (0..<8).map { "192.168.\($0).0/24" }]]
        assertProblem(many, "ipsec.sites[0].childSAs", "make 72 CHILD_SAs; valid: at most 64 pairs")
        let key = Array(repeating: UInt8(ascii: "k"), count: 48)
        func render(_ s: IPsecSite, _ f: IPsecFormat) -> Result<String, ConfigError> {
            IPsecRender.render(s, format: f, side: .local, key: key, path: "ipsec.sites[0]").map { $0.map(\.content).joined() }
        }
        let swanctl = try render(perPair, .swanctl).get()
        XCTAssertEqual(swanctl.components(separatedBy: "local_ts = ").count - 1, 4)
        XCTAssertTrue(swanctl.contains("hq-4 {") && swanctl.contains("local_ts = 172.16.0.0/24\n                remote_ts = 192.168.51.0/24"), swanctl)
        XCTAssertEqual(try render(combined, .swanctl).get().components(separatedBy: "local_ts = ").count - 1, 1)
        XCTAssertEqual(try render(perPair, .strongswanLegacy).get().components(separatedBy: "\nconn gatepeer-hq-").count - 1, 4)
        XCTAssertTrue(try render(perPair, .libreswan).get().contains("rightsubnets={192.168.50.0/24,192.168.51.0/24}"))
        // libreswan has one pair per Child SA: combined cannot be written for it.
        guard case .failure(let e) = render(combined, .libreswan) else { return XCTFail("libreswan rendered combined") }
        XCTAssertTrue(e.description.hasPrefix("ipsec.sites[0].childSAs: combined"), e.description)
        let sheet = try render(perPair, .sheet).get()
        XCTAssertTrue(sheet.contains("configure 4 phase 2 entries") && sheet.contains("local 172.16.0.0/24 <-> remote 192.168.51.0/24"), sheet)
        XCTAssertTrue(try render(combined, .sheet).get().contains("do not configure one phase 2 per subnet pair"))
    }

    func testHostileNamesAndIdentitiesAreRefusedNeverEmitted() {
        for bad in ["hq\"x", "hq x", "hq{", "hq\n}", "", "9hq", "a.b", String(repeating: "a", count: 33)] {
            assertProblem(["name": bad], "ipsec.sites[0].name", "not a valid site name")
        }
        for (bad, what) in [("gw\"1", "double quote"), ("gw\n1", "newline"), ("gw{1}", "brace"), ("gw\\1", "'\\'"), ("gw#1", "'#'"),
                            ("gw;reboot", "';'"), ("gw\u{7}", "control character"), ("gwé", "non-ASCII")] {
            assertProblem(["local": ["address": "192.0.2.1", "id": bad, "subnets": ["10.128.0.0/9"]]], "ipsec.sites[0].local.id", what)
        }
        // Names in messages come back with control characters made visible.
        XCTAssertTrue(problems(["name": "a\nb"]).contains { $0.contains("a\\u000ab") })
        assertProblem(["psk": ["file": "relative.psk"]], "ipsec.sites[0].psk.file", "absolute path")
        assertProblem(["psk": ["file": "/etc/my key"]], "ipsec.sites[0].psk.file", "absolute path")
    }

    func testDistinguishedNameIdentitiesAreQuotedInEveryFormat() throws {
        let s = try site(["remote": ["address": "198.51.100.7", "id": "C=DE, O=Example, CN=hq gw", "subnets": ["192.168.50.0/24"]]])
        let key = Array("k".utf8) + Array(repeating: UInt8(ascii: "x"), count: 47)
        for format in [IPsecFormat.swanctl, .strongswanLegacy, .libreswan] {
            let text = try IPsecRender.render(s, format: format, side: .local, key: key, path: "ipsec.sites[0]").get().map(\.content).joined()
            XCTAssertTrue(text.contains("\"C=DE, O=Example, CN=hq gw\""), "\(format)")
            XCTAssertFalse(text.contains("= C=DE") || text.contains("=C=DE"), "\(format): never unquoted")
        }
    }

    /// A generated key is never read as hex or base64: under plain modulo-62 sampling the
    /// bytes 52, 49 spell "0x" and the key file was refused ("0x... is not valid hex").
    func testGeneratedKeysStartWithALetterAndAreReadAsText() {
        for first in 0...255 {
            var calls = 0
            let key = IPsecLint.newPSK(random: {
                calls += 1
                return calls == 1 ? [UInt8(first), 52, 49] : Array(0...63).map { UInt8($0 * 4 % 256) }
            })!
            XCTAssertEqual(key.utf8.count, 48)
            XCTAssertTrue(key.first!.isLetter, "key \(key) from first byte \(first)")
            XCTAssertTrue(key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
            let read = IPsecLint.psk(.file(mode: 0o100600, bytes: Array((key + "\n").utf8)), path: "p", file: "/k")
            XCTAssertEqual(read.key, Array(key.utf8), "read back as the text itself")
        }
        // Bytes at or over the rejection limit are skipped, never folded onto low characters.
        var calls = 0
        let key = IPsecLint.newPSK(random: { calls += 1; return calls == 1 ? [255, 208, 52, 52, 248, 0] : [UInt8](repeating: 1, count: 64) })!
        XCTAssertTrue(key.hasPrefix("A"), key)
        XCTAssertTrue(key.hasPrefix("A0A"), "then 52 -> '0' among 62; 248 is over 62's limit and skipped; 0 -> 'A': \(key)")
        XCTAssertNil(IPsecLint.newPSK(random: { nil }))
    }

    func testPreSharedKeyFileChecks() {
        let good = Array("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijkl\n".utf8)
        XCTAssertEqual(IPsecLint.psk(.file(mode: 0o100600, bytes: good), path: "p", file: "/k").key?.count, 48, "text key, newline dropped")
        XCTAssertTrue(IPsecLint.psk(.file(mode: 0o100644, bytes: good), path: "p", file: "/k").findings.first!.message.contains("mode 644"))
        XCTAssertTrue(IPsecLint.psk(.file(mode: 0o100640, bytes: good), path: "p", file: "/k").findings.first!.message.contains("group or others"))
        XCTAssertTrue(IPsecLint.psk(.file(mode: 0o100600, bytes: Array("short".utf8)), path: "p", file: "/k").findings.first!.message.contains("fewer than the 43"))
        XCTAssertTrue(IPsecLint.psk(.file(mode: 0o100600, bytes: Array("0s\(Base64.encode(Array(repeating: 7, count: 16)))".utf8)), path: "p", file: "/k")
                        .findings.first!.message.contains("128-bit key"))
        XCTAssertEqual(IPsecLint.psk(.file(mode: 0o100400, bytes: Array("0x\(String(repeating: "ab", count: 32))".utf8)), path: "p", file: "/k").key?.count, 32)
        XCTAssertTrue(IPsecLint.psk(.absent, path: "p", file: "/k").findings.first!.message.contains("umask 077"))
        XCTAssertEqual(Base64.decode(Base64.encode(Array(0...255))), Array(0...255))
        XCTAssertEqual(Base64.encode(Array("foob".utf8)), "Zm9vYg==")
        XCTAssertNil(Base64.decode("Zm9v!g=="))
    }

    /// A key file saved by a Windows editor (UTF-8 BOM, CRLF) is the visible key, with a
    /// warning naming the field; invisible characters inside a key are refused.
    func testInvisibleBytesInKeyFilesAreStrippedWithAWarningOrRefused() {
        let visible = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijkl"
        let windows = [0xEF, 0xBB, 0xBF] + Array(visible.utf8) + [0x0D, 0x0A]
        let read = IPsecLint.psk(.file(mode: 0o100600, bytes: windows), path: "ipsec.sites[0].psk.file", file: "/k")
        XCTAssertEqual(read.key, Array(visible.utf8), "the key is what a person sees")
        XCTAssertEqual(read.findings.map(\.severity), [.warning, .warning], "\(read.findings)")
        XCTAssertTrue(read.findings.allSatisfy { $0.path == "ipsec.sites[0].psk.file" })
        XCTAssertTrue(read.findings.contains { $0.message.contains("byte order mark") })
        XCTAssertTrue(read.findings.contains { $0.message.contains("CRLF") })
        for (bad, what) in [("\u{200B}", "U+200B"), ("\u{00A0}", "U+00A0"), ("\u{200D}", "U+200D"), ("\u{FEFF}", "U+FEFF"),
                            ("\u{0}", "U+0000"), ("\u{1B}", "U+001B"), ("\t", "U+0009"), ("\r", "U+000D"), ("\u{85}", "U+0085"),
                            ("\u{2028}", "U+2028"), ("\u{AD}", "U+00AD")] {
            let key = String(visible.prefix(20)) + bad + String(visible.dropFirst(20))
            let r = IPsecLint.psk(.file(mode: 0o100600, bytes: Array(key.utf8)), path: "ipsec.sites[0].psk.file", file: "/k")
            XCTAssertNil(r.key, what)
            XCTAssertTrue(r.findings.contains { $0.severity == .error && $0.message.contains(what) && $0.message.contains("character 21") }, "\(what): \(r.findings)")
        }
        let notUTF8 = IPsecLint.psk(.file(mode: 0o100600, bytes: Array(visible.utf8) + [0xFF, 0xFE]), path: "p", file: "/k")
        XCTAssertNil(notUTF8.key)
        XCTAssertTrue(notUTF8.findings.first?.message.contains("UTF-8") ?? false, "\(notUTF8.findings)")
        // Every problem of the file at once: mode and content.
        let both = IPsecLint.psk(.file(mode: 0o100644, bytes: Array("short\u{200B}".utf8)), path: "p", file: "/k")
        XCTAssertEqual(both.findings.filter { $0.severity == .error }.count, 3, "mode, invisible character, length: \(both.findings)")
    }

    /// Printable keys are written as text, quoted as each format requires, and the sheet
    /// shows the text itself.
    func testPrintableKeysAreTextQuotedForEachFormat() throws {
        let text = #"Key with !#$ "double" and 'single' quotes, a \ backslash {braces}"#
        let key = Array(text.utf8)
        XCTAssertEqual(IPsecLint.psk(.file(mode: 0o100600, bytes: key + [0x0A]), path: "p", file: "/k").key, key)
        XCTAssertEqual(IPsecRender.secretText(key, for: .swanctl), #""Key with !#$ \"double\" and 'single' quotes, a \\ backslash {braces}""#)
        // strongSwan's ipsec.secrets takes '...' or "..." verbatim (no escapes); libreswan's only "...".
        let noDouble = Array("Key with !#$ and 'single' quotes and some more text".utf8)
        XCTAssertEqual(IPsecRender.secretText(noDouble, for: .strongswanSecrets), "\"Key with !#$ and 'single' quotes and some more text\"")
        XCTAssertEqual(IPsecRender.secretText(noDouble, for: .libreswanSecrets), "\"Key with !#$ and 'single' quotes and some more text\"")
        let noSingle = Array(#"Key with !#$ and "double" quotes and some more text"#.utf8)
        XCTAssertEqual(IPsecRender.secretText(noSingle, for: .strongswanSecrets), #"'Key with !#$ and "double" quotes and some more text'"#)
        XCTAssertEqual(IPsecRender.secretText(noSingle, for: .libreswanSecrets), "0s" + Base64.encode(noSingle))
        XCTAssertEqual(IPsecRender.secretText(key, for: .strongswanSecrets), "0s" + Base64.encode(key))
        // Binary keys, and text that a reader would decode (0x.../0s...), as base64.
        XCTAssertEqual(IPsecRender.secretText([0, 1, 2], for: .swanctl), "0sAAEC")
        XCTAssertEqual(IPsecRender.secretText(Array("0Sabc".utf8), for: .swanctl), "0s" + Base64.encode(Array("0Sabc".utf8)))
        XCTAssertEqual(IPsecRender.secretText(Array("abc123".utf8), for: .swanctl), "\"abc123\"")

        let s = try site()
        let sheet = try IPsecRender.render(s, format: .sheet, side: .remote, key: key, path: "ipsec.sites[0]").get()[0].content
        XCTAssertTrue(sheet.contains("Pre-shared key                       \(text)"), sheet)
        XCTAssertFalse(sheet.contains("0s"), sheet)
    }

    func testFormatsThatCannotCarryASiteRefuseItWithItsPath() throws {
        let cert = try site(["certificate": ["cert": "/etc/swanctl/x509/gw.pem", "key": "/etc/swanctl/private/gw.pem", "ca": "/etc/swanctl/x509ca/ca.pem"],
                             "psk": NSNull()])
        func refusal(_ r: Result<[RenderedFile], ConfigError>) -> String { if case .failure(let e) = r { return e.description } else { return "" } }
        XCTAssertTrue(refusal(IPsecRender.render(cert, format: .libreswan, side: .local, key: nil, path: "ipsec.sites[3]"))
                        .hasPrefix("ipsec.sites[3].certificate: "))
        XCTAssertTrue(refusal(IPsecRender.render(cert, format: .swanctl, side: .remote, key: nil, path: "ipsec.sites[3]")).contains("psk only"))
        let swanctl = try IPsecRender.render(cert, format: .swanctl, side: .local, key: nil, path: "ipsec.sites[3]").get()[0].content
        XCTAssertTrue(swanctl.contains("auth = pubkey") && swanctl.contains("certs = /etc/swanctl/x509/gw.pem") && swanctl.contains("file = /etc/swanctl/private/gw.pem"))
        let ccm = try site(["espProposals": ["aes256ccm16-ecp384"]])
        let key = Array(repeating: UInt8(ascii: "k"), count: 48)
        XCTAssertTrue(refusal(IPsecRender.render(ccm, format: .libreswan, side: .local, key: key, path: "ipsec.sites[0]"))
                        .hasPrefix("ipsec.sites[0].espProposals: \"aes256ccm16-ecp384\" has no libreswan equivalent"))
        XCTAssertNoThrow(try IPsecRender.render(ccm, format: .swanctl, side: .local, key: key, path: "ipsec.sites[0]").get())
    }

    func testRemoteSideIsTheMirrorImage() throws {
        let s = try site()
        let key = Array(repeating: UInt8(ascii: "k"), count: 48)
        let local = try IPsecRender.render(s, format: .swanctl, side: .local, key: key, path: "ipsec.sites[0]").get()[0].content
        let remote = try IPsecRender.render(s, format: .swanctl, side: .remote, key: key, path: "ipsec.sites[0]").get()[0].content
        XCTAssertTrue(local.contains("local_addrs = 192.0.2.1") && local.contains("remote_addrs = 198.51.100.7"))
        XCTAssertTrue(remote.contains("local_addrs = 198.51.100.7") && remote.contains("remote_addrs = 192.0.2.1"))
        XCTAssertTrue(remote.contains("local_ts = 192.168.50.0/24") && remote.contains("remote_ts = 10.128.0.0/9"))
        XCTAssertEqual(s.mirrored.mirrored, s)
    }

    /// Golden renders: every format, both sides, for a policy-based PSK site and a
    /// route-based one. Reviewed by eye once; GATEPEER_UPDATE_GOLDEN=1 rewrites them.
    func testGoldenRenders() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
        let key = Array("GoldenKeyGoldenKeyGoldenKeyGoldenKeyGoldenKey123".utf8)
        let sites: [(String, IPsecSite)] = [
            ("policy", try site(["remote": ["address": "198.51.100.7", "id": "hq-gw.example.com", "subnets": ["192.168.50.0/24", "192.168.51.0/24"]]])),
            ("pairs", try site(["childSAs": "perPair", "overlapsDevicesIntended": true,
                                "local": ["address": "192.0.2.1", "id": "gw1.example.net", "subnets": ["10.128.0.0/9", "172.16.0.0/24"]],
                                "remote": ["address": "198.51.100.7", "id": "hq-gw.example.com", "subnets": ["192.168.50.0/24", "192.168.51.0/24"]]])),
            ("route", try site(["mode": "route", "profile": "compatible", "startAction": "start",
                                "route": ["ifId": 42, "localInside": "169.254.21.2/30", "remoteInside": "169.254.21.1/30"],
                                "local": ["address": "192.0.2.1"], "remote": ["address": "203.0.113.9"]])),
        ]
        for (label, s) in sites {
            for format in IPsecFormat.allCases {
                for side in IPsecSide.allCases {
                    // A format that cannot carry the site: the refusal is the golden text.
                    let text: String
                    switch IPsecRender.render(s, format: format, side: side, key: key, path: "ipsec.sites[0]") {
                    case .success(let files): text = files.map { "==> \($0.name) (\($0.secret ? "0600" : "0644"))\n\($0.content)" }.joined()
                    case .failure(let e): text = "refused: \(e)\n"
                    }
                    let golden = dir.appendingPathComponent("ipsec-\(label)-\(format.rawValue)-\(side.rawValue).txt")
                    if ProcessInfo.processInfo.environment["GATEPEER_UPDATE_GOLDEN"] == "1" {
                        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                        try text.write(to: golden, atomically: true, encoding: .utf8)
                    }
                    XCTAssertEqual(text, try String(contentsOf: golden, encoding: .utf8), golden.lastPathComponent)
                }
            }
        }
    }

    // MARK: issue 10 round 2

    /// Link-local, loopback and multicast prefixes cannot be carried by a tunnel policy:
    /// `fe80::/64` and `169.254.0.0/16` were accepted as traffic selectors.
    func testSelectorsRefuseLinkLocalLoopbackAndMulticastByField() {
        for (bad, what) in [("fe80::/64", "IPv6 link-local"), ("169.254.0.0/16", "IPv4 link-local"), ("127.0.0.0/8", "loopback"),
                            ("ff00::/8", "multicast"), ("224.0.0.0/4", "multicast")] {
            let v6 = bad.contains(":")
            assertProblem(["local": ["address": v6 ? "2001:db8::1" : "192.0.2.1", "subnets": [v6 ? "fd00:10::/64" : "10.128.0.0/9"]],
                           "remote": ["address": v6 ? "2001:db8::7" : "198.51.100.7", "subnets": [bad]]],
                          "ipsec.sites[0].remote.subnets[0]", what)
        }
    }

    /// IPv6 needs a 1280-byte link MTU (RFC 8200 5): `mtu` 600 with IPv6 selectors or
    /// inside addresses was accepted, and the sheet said MSS 560 (mtu - 40, IPv4's headers).
    func testIPv6SelectorsNeedA1280MTUAndTheirOwnMSS() throws {
        let v6: [String: Any] = ["local": ["address": "192.0.2.1", "subnets": ["fd00:10::/64"]],
                                 "remote": ["address": "198.51.100.7", "subnets": ["fd00:20::/64"]]]
        assertProblem(v6.merging(["mtu": 600]) { $1 }, "ipsec.sites[0].mtu", "1280")
        assertProblem(["mode": "route", "mtu": 600, "route": ["ifId": 42, "localInside": "fd00:99::2/64", "remoteInside": "fd00:99::1/64"]],
                      "ipsec.sites[0].mtu", "1280")
        XCTAssertTrue(problems(["mtu": 600]).isEmpty, "576 stays the floor for IPv4 only: \(problems(["mtu": 600]))")
        let key = Array("k".utf8) + Array(repeating: UInt8(ascii: "x"), count: 47)
        func sheet(_ s: IPsecSite) throws -> String {
            try IPsecRender.render(s, format: .sheet, side: .local, key: key, path: "p").get().map(\.content).joined()
        }
        let six = try site(v6.merging(["mtu": 1400]) { $1 })
        XCTAssertEqual(six.effectiveMSS, 1340)
        let sixSheet = try sheet(six)
        XCTAssertTrue(sixSheet.contains("TCP MSS clamp") && sixSheet.contains("1340 (IPv6)"), sixSheet)
        XCTAssertFalse(sixSheet.contains("1360"), sixSheet)
        let mixed = try site(["local": ["address": "192.0.2.1", "subnets": ["10.128.0.0/9", "fd00:10::/64"]],
                              "remote": ["address": "198.51.100.7", "subnets": ["192.168.50.0/24", "fd00:20::/64"]], "mtu": 1400])
        let m = try sheet(mixed)
        XCTAssertTrue(m.contains("1360 (IPv4), 1340 (IPv6)"), m)
        let four = try sheet(site(["mtu": 1400]))
        XCTAssertTrue(four.contains("1360\n") && !four.contains("(IPv4)"), four)
        assertProblem(v6.merging(["mtu": 1400, "mss": 1360]) { $1 }, "ipsec.sites[0].mss", "at most 1340")
    }

    /// Every path field refuses control characters and what a rendered format or a shell
    /// would read as syntax; nothing of such a path reaches a file or the terminal.
    func testPathFieldsRefuseControlsAndSyntaxCharacters() {
        let hostile = ["/x\u{1b}[2J\rcert", "/k';x", "/c$(id)", "/tmp/x/k;id>/tmp/x/PWNED;$(id)`id`", "/a,b", "/a\u{9b}b", "/é"]
        for bad in hostile {
            assertProblem(["psk": ["file": bad]], "ipsec.sites[0].psk.file", "not an absolute path")
            for key in ["cert", "key", "ca"] {
                var c = ["cert": "/etc/c.pem", "key": "/etc/k.pem", "ca": "/etc/ca.pem"]
                c[key] = bad
                assertProblem(["psk": NSNull(), "certificate": c], "ipsec.sites[0].certificate.\(key)", "not an absolute path")
            }
            for p in problems(["psk": ["file": bad]]) {
                XCTAssertFalse(p.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) }, "raw control in \(p.debugDescription)")
            }
        }
        XCTAssertTrue(problems(["psk": ["file": "/etc/gatepeer/hq-1_2.psk"]]).isEmpty)
    }

    /// A proposal repeated within a site's list is a mistake (the second is never chosen);
    /// 5,000 sites with 20 copies each made 500,000 lint lines.
    func testAProposalRepeatedInAListIsRefusedByIndex() {
        assertProblem(["ikeProposals": ["aes256gcm16-prfsha384-ecp384", "aes256-sha256-modp2048", "aes256gcm16-prfsha384-ecp384"]],
                      "ipsec.sites[0].ikeProposals[2]", "same as ikeProposals[0]")
        assertProblem(["espProposals": ["aes256gcm16-ecp384", "aes256gcm16-ecp384"]], "ipsec.sites[0].espProposals[1]", "same as espProposals[0]")
        // The same algorithms in another order between roles are the same proposal; the
        // order within a role is a preference, so aes256-aes128 and aes128-aes256 differ.
        assertProblem(["espProposals": ["aes256-sha256-modp2048", "modp2048-aes256-sha256"]], "ipsec.sites[0].espProposals[1]",
                      #"is the same as espProposals[0] ("aes256-sha256-modp2048", the same algorithms in another order)"#)
        XCTAssertTrue(problems(["espProposals": ["aes256-aes128-sha256-modp2048", "aes128-aes256-sha256-modp2048"]]).isEmpty)
        let weak = problems(["allowWeak": true, "espProposals": Array(repeating: "3des-sha256-modp2048", count: 20)])
        XCTAssertEqual(weak.filter { $0.contains("same as") }.count, 19, "\(weak)")
    }

    /// The key file hint: only for a file that does not exist, and shell-quoted.
    func testKeyFileHintOnlyForAMissingFileAndQuoted() {
        let absent = IPsecLint.psk(.absent, path: "p", file: "/etc/gatepeer/it's.psk").findings.first!.message
        XCTAssertTrue(absent.contains("(umask 077; gatepeer ipsec psk > '/etc/gatepeer/it'\\''s.psk')"), absent)
        let fifo = IPsecLint.psk(.unreadable("is a FIFO, not a regular file"), path: "p", file: "/k").findings.first!.message
        XCTAssertTrue(fifo.contains("cannot be read (is a FIFO"), fifo)
        XCTAssertFalse(fifo.contains("create it") || fifo.contains("gatepeer ipsec psk >"), fifo)
        let mode = IPsecLint.psk(.file(mode: 0o100644, bytes: Array(repeating: 0x41, count: 48)), path: "p", file: "/a b").findings.first!.message
        XCTAssertTrue(mode.contains("chmod 600 '/a b'"), mode)
        XCTAssertEqual(Shell.quote("/plain/path"), "'/plain/path'")
        XCTAssertEqual(Shell.quote("a'b"), "'a'\\''b'")
    }

    /// Issue 10 round 3, item 1: one bad value (an enum, a missing address, a relative key
    /// path, a subnet that does not parse) made the site unbuildable and hid its selector
    /// and MSS problems. Now every check runs on the fields that decoded.
    func testABadValueDoesNotHideTheSitesSelectorAndMSSProblems() {
        let s6: [String: Any] = [
            "local": ["address": "192.0.2.1", "subnets": ["10.1.0.0/16"]],
            "remote": ["address": "198.51.100.7", "subnets": ["192.168.50.0/24", "192.168.50.128/25", "10.1.0.0/16"]],
            "mss": 2000, "childLifetime": 50000,
        ]
        let expected = ["ipsec.sites[0].childLifetime:", "ipsec.sites[0].remote.subnets[1]: 192.168.50.128/25 overlaps 192.168.50.0/24",
                        "ipsec.sites[0].remote.subnets[2]: 10.1.0.0/16 overlaps local.subnets[0]", "ipsec.sites[0].mss: 2000 does not fit"]
        let alone = problems(s6)
        XCTAssertEqual(alone.count, 4, "\(alone)")
        let bad: [(String, Any, String)] = [
            ("startAction", "later", "ipsec.sites[0].startAction:"), ("mode", "bogus", "ipsec.sites[0].mode:"),
            ("profile", "weird", "ipsec.sites[0].profile:"), ("childSAs", "perpair", "ipsec.sites[0].childSAs:"),
            ("local", ["subnets": ["10.1.0.0/16"]], "ipsec.sites[0].local.address:"),
            ("psk", ["file": "relative.psk"], "ipsec.sites[0].psk.file:"),
            ("name", "9 bad", "ipsec.sites[0].name:"),
        ]
        for (field, value, path) in bad {
            var s = s6
            s[field] = value
            let p = problems(s)
            XCTAssertTrue(p.contains { $0.hasPrefix(path) }, "\(path) in \(p)")
            for e in expected { XCTAssertTrue(p.contains { $0.hasPrefix(e) }, "with \(field) \(value): \(e) in \(p)") }
            XCTAssertEqual(p.count, 5, "with \(field) \(value): \(p)")
        }
        // A subnet that does not parse is left out; the others keep their indices.
        var s = s6
        s["local"] = ["address": "192.0.2.1", "subnets": ["10.1.0.0/33", "10.1.0.0/16"]]
        let p = problems(s)
        XCTAssertTrue(p.contains { $0.hasPrefix("ipsec.sites[0].local.subnets[0]:") }, "\(p)")
        XCTAssertTrue(p.contains { $0.hasPrefix("ipsec.sites[0].remote.subnets[2]: 10.1.0.0/16 overlaps local.subnets[1]") }, "\(p)")
        XCTAssertEqual(p.count, 5, "\(p)")
        // The links that decoded are there too: the device-subnet overlap is found in the
        // same run, for a site that cannot be built and for the sites beside it.
        let devices = problems(["startAction": "later", "overlapsDevicesIntended": false])
        XCTAssertTrue(devices.contains { $0.hasPrefix("ipsec.sites[0].local.subnets[0]: 10.128.0.0/9 overlaps the device subnet") }, "\(devices)")
        let beside = Self.config(["overlapsDevicesIntended": false]).replacingOccurrences(of: "\"sites\":[", with: "\"sites\":[{\"name\":\"broken\"},")
        guard case .failure(let e) = ConfigDecoder.decode(beside) else { return XCTFail("decoded") }
        XCTAssertTrue(e.problems.contains { $0.path == "ipsec.sites[1].local.subnets[0]" && $0.message.contains("device subnet") }, "\(e.problems)")
        // Every subnet bad: the end is not also reported as empty.
        s["local"] = ["address": "192.0.2.1", "subnets": ["10.1.0.0/33"]]
        XCTAssertFalse(problems(s).contains { $0.hasPrefix("ipsec.sites[0].local.subnets:") }, "\(problems(s))")
    }

    /// Issue 10 round 3, item 2: perPair paired subnets across families (an IPv6 local with
    /// an IPv4 remote subnet), 4 children of which 2 could never carry a packet. A pair is
    /// two subnets of one family, in every format and on the sheet.
    func testPerPairPairsSubnetsOfOneFamilyOnly() throws {
        let mixed: [String: Any] = ["childSAs": "perPair",
                                    "local": ["address": "192.0.2.1", "subnets": ["2001:db8:1::/48", "10.1.0.0/16"]],
                                    "remote": ["address": "198.51.100.7", "subnets": ["2001:db8:2::/48", "192.168.50.0/24"]]]
        let s = try site(mixed)
        XCTAssertEqual(s.subnetPairCount, 2)
        XCTAssertEqual(IPsecRender.children(s).map { "\($0.name) \($0.local) \($0.remote)" },
                       ["hq-1 [2001:db8:1::/48] [2001:db8:2::/48]", "hq-2 [10.1.0.0/16] [192.168.50.0/24]"])
        let key = Array("k".utf8) + Array(repeating: UInt8(ascii: "x"), count: 47)
        func render(_ f: IPsecFormat) throws -> String {
            try IPsecRender.render(s, format: f, side: .local, key: key, path: "p").get().map(\.content).joined()
        }
        let swanctl = try render(.swanctl)
        XCTAssertEqual(swanctl.components(separatedBy: "local_ts = ").count - 1, 2, swanctl)
        XCTAssertTrue(swanctl.contains("local_ts = 10.1.0.0/16\n                remote_ts = 192.168.50.0/24"), swanctl)
        let legacy = try render(.strongswanLegacy)
        XCTAssertEqual(legacy.components(separatedBy: "conn gatepeer-hq-").count - 1, 2, legacy)
        let libreswan = try render(.libreswan)
        XCTAssertFalse(libreswan.contains("subnets={"), "no combinations across families: \(libreswan)")
        XCTAssertTrue(libreswan.contains("conn gatepeer-hq-1\n") && libreswan.contains("conn gatepeer-hq-2\n"), libreswan)
        XCTAssertTrue(libreswan.contains("leftsubnet=2001:db8:1::/48\n") && libreswan.contains("rightsubnet=192.168.50.0/24\n"), libreswan)
        let sheet = try render(.sheet)
        XCTAssertTrue(sheet.contains("configure 2 phase 2 entries"), sheet)
        XCTAssertTrue(sheet.contains("local 2001:db8:1::/48 <-> remote 2001:db8:2::/48") && sheet.contains("local 10.1.0.0/16 <-> remote 192.168.50.0/24"), sheet)
        XCTAssertFalse(sheet.contains("Phase 2 entry 3") || sheet.contains("2001:db8:1::/48 <-> remote 192.168.50.0/24"), sheet)
        // One family on one end only: nothing can carry its traffic, in either shape.
        for shape in ["perPair", "combined"] {
            assertProblem(["childSAs": shape, "local": ["address": "192.0.2.1", "subnets": ["10.1.0.0/16", "2001:db8:1::/48"]]],
                          "ipsec.sites[0].local.subnets[1]", "remote.subnets has no IPv6 prefix")
        }
    }

    /// Issue 10 round 3, item 3: site hq's perPair children are hq-1, hq-2 (legacy conns
    /// gatepeer-hq-1 ...), the names a site called hq-1 renders too. Refused, naming the
    /// later site's name.
    func testGeneratedNamesOfTwoSitesDoNotCollide() {
        let pairs: [String: Any] = ["childSAs": "perPair", "remote": ["address": "198.51.100.7", "subnets": ["192.168.50.0/24", "192.168.51.0/24"]]]
        func second(_ name: String) -> String {
            Self.config(pairs).replacingOccurrences(of: "\"sites\":[", with: #""sites":[{"name":"\#(name)","local":{"address":"192.0.2.1","subnets":["10.128.0.0/9"]},"remote":{"address":"198.51.100.8","subnets":["192.168.60.0/24"]},"psk":{"file":"/etc/gatepeer/x.psk"},"overlapsDevicesIntended":true},"#)
        }
        guard case .failure(let e) = ConfigDecoder.decode(second("hq-1")) else { return XCTFail("decoded") }
        XCTAssertTrue(e.problems.contains { $0.path == "ipsec.sites[1].name" && $0.message.contains("hq-1") && $0.message.contains("ipsec.sites[0]") }, "\(e.problems)")
        if case .failure(let e) = ConfigDecoder.decode(second("hq-3")) { XCTFail("hq-3 collides with nothing: \(e.problems)") }
    }

    /// Issue 10 round 3, item 4: spaces at both ends of a key warned about the first only.
    func testAKeyWithSpacesAtBothEndsWarnsAboutBoth() {
        let w = IPsecLint.psk(.file(mode: 0o100600, bytes: Array(("  " + String(repeating: "K", count: 45) + "  ").utf8)), path: "p", file: "/k").findings
        XCTAssertEqual(w.map(\.severity), [.warning], "\(w)")
        XCTAssertTrue(w.first?.message.contains("begins and ends with spaces") == true, "\(w)")
        let end = IPsecLint.psk(.file(mode: 0o100600, bytes: Array((String(repeating: "K", count: 45) + " ").utf8)), path: "p", file: "/k").findings
        XCTAssertTrue(end.first?.message.contains("ends with a space") == true, "\(end)")
    }
}
