/// The typed values of fields' texts, shared by every decoder (links config, filter,
/// IPsec sites, grants state file): interface names, addresses, network prefixes,
/// interface addresses, protocols and ports. Each returns the value, or nil after adding
/// one problem at `path` that says what would be valid; a path is formatted only when a
/// problem is reported. Which address classes a field takes is `AddressField`'s table.
enum FieldReader {
    /// Linux accepts 1..15 bytes without '/', ':' or whitespace; we also refuse anything
    /// outside [A-Za-z0-9_.-] so names survive shells, sysctl paths and systemd units.
    static func interfaceName(_ s: String, _ path: @autoclosure () -> String, _ p: inout Problems) -> String? {
        let allowed = s.utf8.allSatisfy { c in
            isAlnum(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
        }
        if s.isEmpty || s.utf8.count > 15 || !allowed || s == "." || s == ".." {
            p.add(path(), "\(Echo.quoted(s)) is not a usable interface name; valid: 1 to 15 characters of A-Z a-z 0-9 _ - . (not \".\" or \"..\")")
            return nil
        }
        if s == "all" || s == "default" {
            p.add(path(), "\"\(s)\" names the sysctl directories net.ipv4.conf.\(s) that apply to every interface; choose another name")
            return nil
        }
        return s
    }

    /// An address in `field`: refused when it does not parse or is of a class the field
    /// cannot use (AddressField's table).
    static func hostAddress(_ s: String, _ path: @autoclosure () -> String, field: AddressField, _ p: inout Problems) -> IPAddress? {
        guard let a = IPAddress(s) else {
            p.add(path(), "\(Echo.quoted(s)) is not an IP address; valid: IPv4 such as 192.0.2.1 or IPv6 such as 2001:db8::1, without a prefix length")
            return nil
        }
        if let why = field.problem(a, text: "\(a)") {
            p.add(path(), why)
            return nil
        }
        return a
    }

    /// A device's address inside the device subnet: not the subnet's network address,
    /// nor (IPv4) its broadcast address, for subnets that have them.
    static func deviceAddressProblem(_ a: IPAddress, in subnet: IPPrefix) -> String? {
        guard subnet.length < subnet.family.bitCount - 1 else { return nil }
        if a == subnet.address.masked(subnet.length) { return "\(a) is the network address of \(subnet); valid: a device address in it" }
        if subnet.family == .v4, a == subnet.lastAddress { return "\(a) is the broadcast address of \(subnet); valid: a device address in it" }
        return nil
    }

    /// A network prefix: host bits must be zero, so a typo like 192.168.10.1/24 is caught.
    static func network(_ s: String, _ path: @autoclosure () -> String, field: AddressField, _ p: inout Problems) -> IPPrefix? {
        switch IPPrefix.parse(s) {
        case .failure(let e):
            p.add(path(), prefixMessage(s, e))
            return nil
        case .success(let pre):
            if let why = field.hostBitsProblem(pre, text: s) {
                p.add(path(), why)
                return nil
            }
            if let why = field.problem(pre, text: "\(pre)") {
                p.add(path(), why)
                return nil
            }
            return pre
        }
    }

    /// An interface address with its subnet length: the address itself must be a usable host.
    static func interfaceAddress(_ s: String, _ path: @autoclosure () -> String, _ p: inout Problems) -> IPPrefix? {
        switch IPPrefix.parse(s) {
        case .failure(let e):
            p.add(path(), prefixMessage(s, e))
            return nil
        case .success(let pre):
            let bits = pre.family.bitCount
            if let why = AddressField.innerAddress.problem(pre.address, length: pre.length, text: "\(pre.address)") {
                p.add(path(), why)
                return nil
            }
            if pre.length == bits {
                p.add(path(), "\(s) is a single address, which leaves no device subnet; valid: the device subnet's length, such as /9")
                return nil
            }
            if pre.address.isIPv6LinkLocal {
                p.add(path(), "\(s) is IPv6 link-local (fe80::/10), which the kernel manages itself; valid: a global or unique-local address such as fd00:10::fffe/64")
                return nil
            }
            if pre.length < bits - 1 {
                if !pre.hasHostBits {
                    p.add(path(), "\(s) is the subnet's network address; valid: a host address in \(pre.network) with its length, such as \(pre.network.lastAddress.family == .v4 ? "10.255.255.254/9" : "2001:db8::fffe/64")")
                    return nil
                }
                if pre.family == .v4, pre.address == pre.lastAddress {
                    p.add(path(), "\(s) is the subnet's broadcast address; valid: a host address in \(pre.network)")
                    return nil
                }
            }
            return pre
        }
    }

    private static func prefixMessage(_ s: String, _ e: IPPrefix.ParseError) -> String {
        switch e {
        case .missingLength: return "\(Echo.quoted(s)) has no prefix length; valid: ADDRESS/LENGTH such as 10.255.255.254/9"
        case .badAddress: return "\(Echo.quoted(s)) does not start with an IP address; valid: ADDRESS/LENGTH such as 192.168.10.0/24 or 2001:db8:10::/48"
        case .badLength(let max): return "\(Echo.quoted(s)) has a bad prefix length; valid: 0 to \(max)"
        }
    }


    /// The object's `protocol` member: a name (tcp, udp, icmp, ...), "any", or a number
    /// 0..255; `.any` when absent, nil (with a problem) when not valid.
    static func protocolMatch(_ o: ObjectReader, path: @autoclosure () -> String, _ p: inout Problems) -> ProtocolMatch? {
        guard let v = o.value("protocol", &p) else { return .any }
        switch v {
        case .string(let s):
            if let m = ProtocolMatch.parse(s), DecimalText.parse(s, in: 0...255) == nil { return m }
            p.add("\(path()).protocol", "\(Echo.quoted(s)) is not a protocol; valid: tcp, udp, icmp, icmpv6, sctp, dccp, udplite, any, or a number 0..255")
            return nil
        case .number(let t):
            if let n = Int(t), (0...255).contains(n) { return .number(UInt8(n)) }
            p.add("\(path()).protocol", "\(t) is out of range; valid: 0..255 or a name such as tcp")
            return nil
        default:
            p.add("\(path()).protocol", "is \(v.typeName); valid: a name such as tcp or a number 0..255")
            return nil
        }
    }

    /// `ports`: a list of integers (443) and ranges ("8000-8080"); only with tcp, udp,
    /// sctp, dccp or udplite.
    static func ports(_ o: ObjectReader, path: @autoclosure () -> String, protocolMatch: ProtocolMatch?, _ p: inout Problems) -> [PortRange]? {
        guard let items = o.array("ports", required: false, &p) else { return [] }
        if items.isEmpty { p.add("\(path()).ports", "is empty; leave it out to mean any port"); return nil }
        if let proto = protocolMatch, !proto.carriesPorts {
            p.add("\(path()).ports", "needs a protocol with ports (tcp, udp, sctp, dccp, udplite); protocol is \(proto)")
            return nil
        }
        var out: [PortRange] = []
        var ok = true
        for (i, item) in items.enumerated() {
            let ip = "\(path()).ports[\(i)]"
            switch item {
            case .number(let t):
                if let n = Int(t), (1...65535).contains(n) { out.append(PortRange(low: UInt16(n), high: UInt16(n))) } else {
                    p.add(ip, "\(Echo.value(t)) is out of range; valid: 1..65535"); ok = false
                }
            case .string(let s):
                if let r = PortRange.parse(Substring(s)) {
                    out.append(r)
                } else {
                    p.add(ip, "\(Echo.quoted(s)) is not a port or range; valid: 1..65535, or \"LOW-HIGH\" with LOW <= HIGH"); ok = false
                }
            default:
                p.add(ip, "is \(item.typeName); valid: a port number or a \"LOW-HIGH\" range"); ok = false
            }
        }
        return ok ? out : nil
    }

    /// ASCII letter or digit (a byte of UTF-8).
    static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
    }
}
