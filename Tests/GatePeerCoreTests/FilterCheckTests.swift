import XCTest
@testable import GatePeerCore

/// `filter check`: the verdict and the rule that decides it, for a table of packets
/// against one policy that has a case for each way a decision is made (issue 11 item 6).
final class FilterCheckTests: XCTestCase {
    /// Rule numbers of group "staff" are the indexes the cases name.
    static let policy = """
    {"links": [
      {"name": "gp0", "vxlanId": 10, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.255.255.254/9",
       "peers": [{"outerIpAddress": "100.64.152.4"}], "routes": [{"destination": "192.168.10.0/24", "via": "10.129.3.7"}]},
      {"name": "gp6", "vxlanId": 11, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "fd00:10::fffe/64",
       "peers": [{"outerIpAddress": "100.64.152.5"}]}],
     "filter": {"uplinkDevice": "uplink", "resolvers": ["203.0.113.53"], "backendPrefixes": ["172.16.5.0/24"],
       "inbound": [{"from": "198.51.100.0/24", "protocol": "tcp", "ports": [22]}, {"from": "2001:db8:77::/48"}],
       "outbound": [
         {"name": "staff", "sources": ["10.128.0.0/10", "fd00:10::/64"], "rules": [
           {"action": "allow", "destination": "203.0.113.0/24"},
           {"action": "deny", "destination": "203.0.113.0/24", "protocol": "tcp", "ports": ["8000-8999"]},
           {"action": "allow", "destination": "203.0.113.0/24", "protocol": "tcp", "ports": ["8080-8090"]},
           {"action": "allow", "destination": "203.0.113.0/24", "protocol": "tcp", "ports": ["8085-8095"]},
           {"action": "deny", "destination": "203.0.113.64/26", "protocol": "udp"},
           {"action": "allow", "destination": "0.0.0.0/0", "protocol": "icmp"},
           {"action": "allow", "domain": "api.example.com"},
           {"action": "deny", "domain": "api.example.com"},
           {"action": "allow", "domain": "*.cdn.example.net", "protocol": "tcp", "ports": [443]},
           {"action": "deny", "domain": "*.cdn.example.net", "protocol": "tcp"},
           {"action": "allow", "destination": "2001:db8:1::/48", "protocol": "tcp", "ports": [443]},
           {"action": "deny", "destination": "2001:db8:1:2::/64"},
           {"action": "deny", "domain": "mail.example.org", "protocol": "tcp", "ports": [25]},
           {"action": "allow", "domain": "mail.example.org", "protocol": "tcp", "ports": [25]},
           {"action": "deny", "domain": "a.cdn.example.net", "protocol": "tcp"},
           {"action": "allow", "domain": "a.cdn.example.net", "protocol": "tcp", "ports": [443]}
         ]},
         {"name": "lab", "sources": ["10.192.0.0/11"], "default": "allow", "rules": [
           {"action": "deny", "destination": "198.51.100.0/24"}]},
         {"name": "one", "sources": ["10.224.0.7/32"], "rules": []}
       ]}}
    """

    /// 203.0.113.7 is api.example.com (inside rule 0's prefix), 198.51.100.9 a.cdn.example.net,
    /// 203.0.113.25 mail.example.org, 2001:db8:1:2::80 api.example.com over IPv6.
    static let learned = LearnedAddresses(names: [
        "api.example.com": [.init(address: IPAddress("203.0.113.7")!, expires: 1000), .init(address: IPAddress("2001:db8:1:2::80")!, expires: 1000)],
        "a.cdn.example.net": [.init(address: IPAddress("198.51.100.9")!, expires: 1000)],
        "mail.example.org": [.init(address: IPAddress("203.0.113.25")!, expires: 1000)],
        "gone.cdn.example.net": [.init(address: IPAddress("203.0.113.99")!, expires: 50)],
    ])

    static let grants = [
        Grant(from: IPPrefix("10.128.0.5/32")!, to: IPPrefix("203.0.113.20/32")!, protocolMatch: .number(6), ports: [PortRange(low: 8000, high: 8000)], expires: 500),
        Grant(from: IPPrefix("10.128.0.6/32")!, to: IPPrefix("203.0.113.20/32")!, expires: 99),
    ]

    struct Case {
        let src: String, dst: String, proto: String
        let allowed: Bool
        let decidedBy: String
        let why: String
    }

    static let staff = "filter.outbound[0]"
    static let cases: [Case] = [
        // Prefix rules: most specific prefix, then protocol, then the narrowest port range.
        Case(src: "10.128.0.5", dst: "203.0.113.10", proto: "tcp/443", allowed: true, decidedBy: "\(staff).rules[0]", why: "prefix, any protocol"),
        Case(src: "10.128.0.5", dst: "203.0.113.10", proto: "tcp/8000", allowed: false, decidedBy: "\(staff).rules[1]", why: "a port range beats any port"),
        Case(src: "10.128.0.5", dst: "203.0.113.10", proto: "tcp/8999", allowed: false, decidedBy: "\(staff).rules[1]", why: "range end inclusive"),
        Case(src: "10.128.0.5", dst: "203.0.113.10", proto: "tcp/9000", allowed: true, decidedBy: "\(staff).rules[0]", why: "past the range"),
        Case(src: "10.128.0.5", dst: "203.0.113.10", proto: "tcp/8080", allowed: true, decidedBy: "\(staff).rules[2]", why: "the narrower range"),
        Case(src: "10.128.0.5", dst: "203.0.113.10", proto: "tcp/8087", allowed: true, decidedBy: "\(staff).rules[2]", why: "a tie of equal ranges is the first rule's"),
        Case(src: "10.128.0.5", dst: "203.0.113.10", proto: "tcp/8090", allowed: true, decidedBy: "\(staff).rules[2]", why: "tie up to its end"),
        Case(src: "10.128.0.5", dst: "203.0.113.10", proto: "tcp/8091", allowed: true, decidedBy: "\(staff).rules[3]", why: "past the tie"),
        Case(src: "10.128.0.5", dst: "203.0.113.10", proto: "udp/8000", allowed: true, decidedBy: "\(staff).rules[0]", why: "ports are per protocol"),
        Case(src: "10.128.0.5", dst: "203.0.113.70", proto: "udp/53", allowed: false, decidedBy: "\(staff).rules[4]", why: "longer prefix, protocol rule"),
        Case(src: "10.128.0.5", dst: "203.0.113.70", proto: "any", allowed: true, decidedBy: "\(staff).rules[0]", why: "any protocol skips protocol rules"),
        Case(src: "10.128.0.5", dst: "203.0.113.70", proto: "tcp/8080", allowed: true, decidedBy: "\(staff).rules[2]", why: "inherited port rule of the outer prefix"),
        Case(src: "10.128.0.5", dst: "8.8.8.8", proto: "icmp", allowed: true, decidedBy: "\(staff).rules[5]", why: "0.0.0.0/0 protocol rule"),
        Case(src: "10.128.0.5", dst: "8.8.8.8", proto: "tcp/443", allowed: false, decidedBy: "\(staff).default", why: "no rule: the default"),
        // Learned addresses of domain rules: checked before prefixes; port, protocol, any; deny wins.
        Case(src: "10.128.0.5", dst: "203.0.113.7", proto: "tcp/443", allowed: false, decidedBy: "\(staff).rules[7]", why: "deny wins over an earlier allow"),
        Case(src: "10.128.0.5", dst: "203.0.113.7", proto: "icmp", allowed: false, decidedBy: "\(staff).rules[7]", why: "learned beats the icmp prefix rule"),
        Case(src: "10.128.0.5", dst: "203.0.113.25", proto: "tcp/25", allowed: false, decidedBy: "\(staff).rules[12]", why: "deny wins over a later allow"),
        Case(src: "10.128.0.5", dst: "203.0.113.25", proto: "tcp/26", allowed: true, decidedBy: "\(staff).rules[0]", why: "off the learned port: prefix rules"),
        Case(src: "10.128.0.5", dst: "198.51.100.9", proto: "tcp/443", allowed: true, decidedBy: "\(staff).rules[8]", why: "the port map first; a tie with rules[15] is the first rule's"),
        Case(src: "10.128.0.5", dst: "198.51.100.9", proto: "tcp/80", allowed: false, decidedBy: "\(staff).rules[9]", why: "then the protocol map; a tie with rules[14] is the first rule's"),
        Case(src: "10.128.0.5", dst: "198.51.100.9", proto: "udp/53", allowed: false, decidedBy: "\(staff).default", why: "no learned key, no prefix"),
        Case(src: "10.128.0.5", dst: "203.0.113.99", proto: "tcp/443", allowed: true, decidedBy: "\(staff).rules[0]", why: "an expired address is not learned"),
        // IPv6.
        Case(src: "fd00:10::5", dst: "2001:db8:1::1", proto: "tcp/443", allowed: true, decidedBy: "\(staff).rules[10]", why: "IPv6 port rule"),
        Case(src: "fd00:10::5", dst: "2001:db8:1::1", proto: "udp/443", allowed: false, decidedBy: "\(staff).default", why: "IPv6, other protocol"),
        Case(src: "fd00:10::5", dst: "2001:db8:1:2::1", proto: "tcp/443", allowed: false, decidedBy: "\(staff).rules[11]", why: "longer prefix beats a port"),
        Case(src: "fd00:10::5", dst: "2001:db8:1:2::80", proto: "tcp/443", allowed: false, decidedBy: "\(staff).rules[7]", why: "learned IPv6 address"),
        // Groups by most specific source.
        Case(src: "10.192.0.5", dst: "198.51.100.1", proto: "tcp/443", allowed: false, decidedBy: "filter.outbound[1].rules[0]", why: "other group's rule"),
        Case(src: "10.192.0.5", dst: "8.8.8.8", proto: "tcp/443", allowed: true, decidedBy: "filter.outbound[1].default", why: "other group's default"),
        Case(src: "10.224.0.7", dst: "8.8.8.8", proto: "tcp/443", allowed: false, decidedBy: "filter.outbound[2].default", why: "a /32 source"),
        Case(src: "10.224.0.8", dst: "8.8.8.8", proto: "tcp/443", allowed: false, decidedBy: "sources", why: "a device in no group"),
        Case(src: "10.192.0.5", dst: "203.0.113.7", proto: "tcp/443", allowed: true, decidedBy: "filter.outbound[1].default", why: "another group's learned addresses do not apply"),
        // Backends, grants, tunnels, inbound.
        Case(src: "10.128.0.5", dst: "172.16.5.9", proto: "tcp/443", allowed: true, decidedBy: "filter.backendPrefixes[0]", why: "backend"),
        Case(src: "10.128.0.5", dst: "203.0.113.20", proto: "tcp/8000", allowed: true, decidedBy: "grant", why: "grant beats a deny rule"),
        Case(src: "10.128.0.5", dst: "203.0.113.20", proto: "tcp/8001", allowed: false, decidedBy: "\(staff).rules[1]", why: "grant is for port 8000 only"),
        Case(src: "10.128.0.6", dst: "203.0.113.20", proto: "tcp/8000", allowed: false, decidedBy: "\(staff).rules[1]", why: "expired grant"),
        Case(src: "10.128.0.5", dst: "10.192.0.9", proto: "tcp/443", allowed: true, decidedBy: "tunnel-to-tunnel", why: "tunnel to tunnel"),
        Case(src: "10.128.0.5", dst: "192.168.10.5", proto: "tcp/443", allowed: true, decidedBy: "tunnel-to-tunnel", why: "a routed subnet is a tunnel"),
        Case(src: "198.51.100.7", dst: "10.128.0.5", proto: "tcp/22", allowed: true, decidedBy: "filter.inbound[0]", why: "inbound rule"),
        Case(src: "198.51.100.7", dst: "10.128.0.5", proto: "tcp/23", allowed: false, decidedBy: "inbound", why: "inbound, other port"),
        Case(src: "198.51.100.7", dst: "192.168.10.5", proto: "udp/22", allowed: false, decidedBy: "inbound", why: "inbound, other protocol"),
        Case(src: "2001:db8:77::1", dst: "fd00:10::5", proto: "udp/53", allowed: true, decidedBy: "filter.inbound[1]", why: "IPv6 inbound, any protocol"),
        Case(src: "2001:db8:78::1", dst: "fd00:10::5", proto: "udp/53", allowed: false, decidedBy: "inbound", why: "IPv6 inbound, other source"),
        Case(src: "172.31.0.9", dst: "8.8.8.8", proto: "tcp/443", allowed: false, decidedBy: "sources", why: "no group"),
    ]

    func testTableOfVerdictsNamesTheDecidingRule() throws {
        let config = try XCTUnwrap(decodeOK(Self.policy))
        for c in Self.cases {
            guard case .success(let (proto, port)) = FilterCheck.parseProtocol(c.proto) else { XCTFail("bad case \(c.proto)"); continue }
            let v = FilterCheck.check(config, source: IPAddress(c.src)!, destination: IPAddress(c.dst)!, proto: proto, port: port,
                                      learned: Self.learned, grants: Self.grants, now: 100)
            let what = "\(c.src) -> \(c.dst) \(c.proto) (\(c.why)): \(v.reason)"
            XCTAssertEqual(v.allowed, c.allowed, what)
            XCTAssertEqual(v.decidedBy, c.decidedBy, what)
            // The printed reason names the same rule, with the rule itself in words.
            if c.decidedBy.hasPrefix("filter.") { XCTAssertTrue(v.reason.hasPrefix(c.decidedBy + " ") || v.reason.hasPrefix(c.decidedBy + ":"), what) }
            if c.decidedBy.contains(".rules["), let k = Int(c.decidedBy.split(separator: "[").last!.dropLast()),
               let gi = Int(c.decidedBy.dropFirst("filter.outbound[".count).prefix { $0.isNumber }) {
                XCTAssertTrue(v.reason.contains(config.filter!.outbound[gi].rules[k].summary), what)
            }
        }
    }

    /// The verdict must not depend on the decoder's stored compilation: the fallback that
    /// compiles the group itself decides alike.
    func testVerdictsWithoutTheStoredCompilation() throws {
        var config = try XCTUnwrap(decodeOK(Self.policy))
        config.filter?.compiled = nil
        for c in Self.cases {
            guard case .success(let (proto, port)) = FilterCheck.parseProtocol(c.proto) else { continue }
            let v = FilterCheck.check(config, source: IPAddress(c.src)!, destination: IPAddress(c.dst)!, proto: proto, port: port,
                                      learned: Self.learned, grants: Self.grants, now: 100)
            XCTAssertEqual("\(v.allowed) \(v.decidedBy)", "\(c.allowed) \(c.decidedBy)", "\(c.src) -> \(c.dst) \(c.proto) (\(c.why))")
        }
    }

    func testNoFilterSectionAllowsEverything() throws {
        let config = try XCTUnwrap(decodeOK(labConfigText))
        let v = FilterCheck.check(config, source: IPAddress("10.128.0.5")!, destination: IPAddress("8.8.8.8")!, proto: 6, port: 443)
        XCTAssertEqual(v, FilterCheck.Verdict(allowed: true, decidedBy: "filter", reason: "no filter section: gatepeer keeps no table, forwarding is not filtered"))
    }

    func testProtocolArgument() {
        for good in ["tcp/443", "udp", "icmp", "6/443", "any", "17/1", "tcp/65535"] {
            if case .failure = FilterCheck.parseProtocol(good) { XCTFail(good) }
        }
        for bad in ["tcp/", "tcp/0", "tcp/65536", "icmp/1", "any/80", "bogus", "tcp/80-90", "/80", ""] {
            XCTAssertEqual(FilterCheck.parseProtocol(bad).map { _ in "ok" }, .failure(.badProtocol(bad)), bad)
        }
        guard case .success(let (p, port)) = FilterCheck.parseProtocol("6/443") else { return XCTFail() }
        XCTAssertEqual(p, 6)
        XCTAssertEqual(port, 443)
    }
}
