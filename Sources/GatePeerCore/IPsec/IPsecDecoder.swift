/// Decodes and validates the `ipsec` section of a config into sites, reporting every
/// problem at once to `Problems` with its JSON path; a site that cannot be built is still
/// linted (IPsecLint) with what decoded, so one run reports all of a site's problems.
public enum IPsecDecoder {    /// `links`: the links that decoded, whose device subnets the sites that cannot go on
    /// to crossCheck are linted against here.
    static func decode(_ v: JSONValue, links: [VPGLink], _ p: inout Problems) -> IPsecConfig? {
        let devices = links.map { (link: $0.name, subnet: $0.deviceSubnet) }
        guard let o = ObjectReader(v, path: "ipsec", &p) else { return nil }
        var sites: [IPsecSite] = []
        var names: [String: Int] = [:]
        var ok = true
        var indices: [Int] = []
        if let items = o.array("sites", required: true, &p) {
            for (i, item) in items.enumerated() {
                if let s = decodeSite(item, path: "ipsec.sites[\(i)]", devices: devices, &p) {
                    if let j = names[s.name] {
                        p.add("ipsec.sites[\(i)].name", "\(Echo.quoted(s.name)) is used by another site (ipsec.sites[\(j)]); valid: a unique name")
                    } else {
                        names[s.name] = i
                    }
                    sites.append(s)
                    indices.append(i)
                } else { ok = false }
            }
        } else { ok = false }
        o.finish(&p, known: ["sites"])
        // The names each site renders (its own, its perPair CHILD_SAs NAME-N, which are
        // also legacy conns gatepeer-NAME-N) must be the only ones: site hq's hq-1 and a
        // site named hq-1 would be the same conn. Names are not escaped into something a
        // site name cannot hold (swanctl and ipsec.conf give section names no separator
        // to spare), so a collision is refused naming the later site.
        var rendered: [String: Int] = [:]
        for (k, s) in sites.enumerated() where names[s.name] == indices[k] {
            // Beyond maxPerPairChildren the site is refused anyway: its pairs are not built.
            let own = [s.name] + (s.subnetPairCount > IPsecSite.maxPerPairChildren ? [] : IPsecRender.children(s).map(\.name))
            if let (n, j) = own.lazy.compactMap({ n in rendered[n].map { (n, $0) } }).first {
                let other = sites[j]
                p.add("ipsec.sites[\(indices[k])].name", "\(Echo.quoted(s.name)) renders the name \(Echo.quoted(n)) (conn gatepeer-\(n)), which ipsec.sites[\(indices[j])] (\(Echo.quoted(other.name))) renders too (perPair CHILD_SAs are named NAME-1, NAME-2, ...); valid: a name no other site renders")
            }
            for n in own { rendered[n] = rendered[n] ?? k }
        }
        guard ok else {
            // crossCheck will not run: the sites that were built are linted here, in the
            // same run, against the links that decoded.
            for (i, s) in zip(indices, sites) { lintErrors(s, path: "ipsec.sites[\(i)]", devices: devices, &p) }
            return nil
        }
        return IPsecConfig(sites: sites)
    }

    /// The errors IPsecLint finds in the sites of `ipsec` (proposals, and selectors against
    /// `links`' device subnets), added to `p`; warnings are `ipsec lint`'s to print.
    static func lintErrors(_ ipsec: IPsecConfig?, links: [VPGLink], _ p: inout Problems) {
        let devices = links.map { (link: $0.name, subnet: $0.deviceSubnet) }
        for (i, site) in (ipsec?.sites ?? []).enumerated() {
            lintErrors(site, path: "ipsec.sites[\(i)]", devices: devices, &p)
        }
    }

    /// The errors IPsecLint finds in `site` (at JSON path `path`, against the links'
    /// device subnets `devices`), added to `p` unless at a path in `except`; warnings are
    /// `ipsec lint`'s to print.
    static func lintErrors(_ site: IPsecSite, path: String, devices: [(link: String, subnet: IPPrefix)],
                           configIndex: [String: [Int]] = [:], except: [String] = [], _ p: inout Problems) {
        for f in IPsecLint.check(site, path: path, deviceSubnets: devices, configIndex: configIndex)
        where f.severity == .error && !except.contains(f.path) {
            p.add(f.path, f.message)
        }
    }

    /// The pre-shared key files of a config's sites, read straight from the JSON (index in
    /// `ipsec.sites`, the site's name when it is a string, the path): for `ipsec lint` on a
    /// config that does not decode, so that a site's key file problems come in the same run
    /// as its config problems. Only paths `pathProblem` accepts are listed (the others are
    /// config problems already); nothing when the text is not JSON.
    public static func keyFiles(bytes: [UInt8]) -> [(index: Int, name: String?, file: String)] {
        func member(_ v: JSONValue?, _ key: String) -> JSONValue? {
            guard case .object(let m)? = v else { return nil }
            return m.first { $0.key == key }?.value
        }
        guard let root = try? JSONReader.parse(bytes: bytes).0, case .array(let sites)? = member(member(root, "ipsec"), "sites") else { return [] }
        return sites.enumerated().compactMap { i, site in
            guard case .string(let file)? = member(member(site, "psk"), "file"), pathProblem(file) == nil else { return nil }
            guard case .string(let name)? = member(site, "name") else { return (i, nil, file) }
            return (i, name, file)
        }
    }

    /// Why `s` cannot be a file path of a site (nil: it can). Paths are written unquoted
    /// into swanctl files, printed on the sheet and in shell commands gatepeer suggests, so
    /// only characters that mean nothing in any of them are taken: an absolute path of
    /// ASCII letters, digits and / . _ - + (no controls, spaces, quotes, commas, which
    /// separate swanctl lists, or shell syntax such as ; $ `). A value without the leading
    /// "/" is not echoed (it may be a secret).
    static func pathProblem(_ s: String) -> String? {
        let allowed = "/._-+"
        let bad = s.first { c in !(c.isASCII && (c.isLetter || c.isNumber || allowed.contains(c))) }
        guard s.hasPrefix("/"), s.utf8.count < 4096, bad == nil else {
            // Not shown unless it looks like a path: a value that does not start with "/" may
            // be the key itself, pasted where its file belongs, and problems reach the journal.
            guard s.hasPrefix("/") else {
                return "is not an absolute path (the value is not shown: it may be a key pasted in place of its file); valid: such as /etc/gatepeer/hq.psk"
            }
            let why = bad.map { ", it contains \(describe($0))" } ?? ", it is longer than 4095 bytes"
            return "\"\(Echo.value(s))\" is not an absolute path of ASCII letters, digits and / . _ - +\(why); valid: such as /etc/gatepeer/hq.psk"
        }
        return nil
    }

    /// Characters that would break out of a value in one of the rendered formats.
    static func unsafeIdentity(_ s: String) -> Character? {
        s.first { c in
            guard let a = c.asciiValue else { return true }  // non-ASCII: no format agrees on it
            return a < 0x20 || a == 0x7f || "\"'\\{}#$`;".contains(c)
        }
    }

    private static func decodeSite(_ v: JSONValue, path: String, devices: [(link: String, subnet: IPPrefix)], _ p: inout Problems) -> IPsecSite? {
        guard let o = ObjectReader(v, path: path, &p) else { return nil }
        var ok = true
        let name = o.string("name", required: true, &p)
        if let n = name {
            let valid = !n.isEmpty && n.count <= 32 && n.first!.isASCII && n.first!.isLetter
                && n.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
            if !valid {
                p.add("\(path).name", "\"\(Echo.value(n))\" is not a valid site name; valid: 1-32 letters, digits, '-' or '_', starting with a letter (it becomes a section name in every format)")
                ok = false
            }
        } else { ok = false }
        let modeText = o.string("mode", required: false, &p) ?? "policy"
        let mode = IPsecSite.Mode(rawValue: modeText)
        if mode == nil { p.add("\(path).mode", "\(Echo.quoted(modeText)) is not a mode; valid: policy, route"); ok = false }

        var ifId: UInt32? = nil
        var insides: (IPPrefix?, IPPrefix?) = (nil, nil)
        // A route or ifId refused for its own value is not also "required" below.
        var ifIdRefused = false
        if let r = o.value("route", &p) {
            if mode != .route { p.add("\(path).route", "is only valid with \"mode\": \"route\"") }
            if let ro = ObjectReader(r, path: "\(path).route", &p) {
                ifId = ro.integer("ifId", in: 1...0xffff_ffff, &p).map { UInt32($0) }
                ifIdRefused = ifId == nil && ro.members.contains { $0.key == "ifId" }
                for (k, key) in ["localInside", "remoteInside"].enumerated() {
                    if let s = ro.string(key, required: false, &p) {
                        let a = FieldReader.interfaceAddress(s, "\(path).route.\(key)", &p)
                        if a == nil { ok = false }
                        if k == 0 { insides.0 = a } else { insides.1 = a }
                    }
                }
                ro.finish(&p, known: ["ifId", "localInside", "remoteInside"])
            } else { ok = false; ifIdRefused = true }
        }
        if mode == .route && ifId == nil && !ifIdRefused { p.add("\(path).route.ifId", "is required in route mode; valid: 1..4294967295 (the XFRM interface id)") }
        if let a = insides.0, let b = insides.1 {
            if a.network != b.network || a.address == b.address {
                p.add("\(path).route.remoteInside", "\(b) must be another address of \(a.network) (the local inside address's subnet)")
            }
        } else if (insides.0 == nil) != (insides.1 == nil) {
            p.add("\(path).route", "give both localInside and remoteInside, or neither")
        }

        // Each end's subnets that decoded, with their config indices, and whether every one
        // did: a site that cannot be built is still linted with them.
        var decoded: [String: (subnets: [IPPrefix], indices: [Int], complete: Bool)] = [:]
        func end(_ key: String, inside: IPPrefix?) -> IPsecSite.End? {
            guard let ev = o.value(key, &p) else { p.add("\(path).\(key)", "is required; valid: { \"address\": ..., \"subnets\": [...] }"); return nil }
            guard let eo = ObjectReader(ev, path: "\(path).\(key)", &p) else { return nil }
            var good = true
            var address: IPAddress? = nil
            if let a = eo.string("address", required: true, &p) {
                address = IPAddress(a)
                if address == nil {
                    p.add("\(path).\(key).address", "\"\(Echo.value(a))\" is not a unicast IP address; valid: such as 192.0.2.1"); good = false
                } else if let why = AddressField.ipsecEndpoint.problem(address!, text: "\(address!)") {
                    p.add("\(path).\(key).address", why); address = nil; good = false
                }
            } else { good = false }
            var id = address.map { "\($0)" } ?? ""
            if let i = eo.string("id", required: false, &p) {
                if i.isEmpty || i.count > 255 {
                    p.add("\(path).\(key).id", "must be 1-255 characters"); good = false
                } else if let bad = unsafeIdentity(i) {
                    p.add("\(path).\(key).id", "contains \(describe(bad)), which cannot be written safely in every format; valid: printable ASCII without quotes, backslash, braces, '#', '$', '`' or ';' (spaces are quoted)")
                    good = false
                } else { id = i }
            }
            var subnets: [IPPrefix] = [], indices: [Int] = [], complete = true
            if let items = eo.array("subnets", required: false, &p) {
                for (k, item) in items.enumerated() {
                    guard case .string(let s) = item else { p.add("\(path).\(key).subnets[\(k)]", "is \(item.typeName); valid: a prefix such as 10.1.0.0/24"); good = false; complete = false; continue }
                    if let n = FieldReader.network(s, "\(path).\(key).subnets[\(k)]", field: .ipsecSubnet, &p) { subnets.append(n); indices.append(k) } else { good = false; complete = false }
                }
            } else if eo.members.contains(where: { $0.key == "subnets" }) { complete = false }
            decoded[key] = (subnets, indices, complete)
            eo.finish(&p, known: ["address", "id", "subnets"])
            guard good, let address else { return nil }
            return IPsecSite.End(address: address, id: id, subnets: subnets, insideAddress: inside)
        }
        var local = end("local", inside: insides.0)
        var remote = end("remote", inside: insides.1)
        if local == nil || remote == nil { ok = false }
        if let l = local, let r = remote, l.address.family != r.address.family {
            p.add("\(path).remote.address", "\(r.address) is \(r.address.family.name) but local.address is \(l.address.family.name); valid: the same family")
        }
        if mode == .route {
            for k in [0, 1] {
                let e = k == 0 ? local : remote
                if var e, e.subnets.isEmpty {
                    e.subnets = [IPPrefix("0.0.0.0/0")!]
                    if k == 0 { local = e } else { remote = e }
                }
            }
        }

        let ikeVersion = o.integer("ikeVersion", in: 1...2, &p) ?? 2
        let legacy = o.bool("legacyIKEv1", &p) ?? false
        if ikeVersion == 1 && !legacy {
            p.add("\(path).ikeVersion", "1 (IKEv1) needs \"legacyIKEv1\": true, and is weak (RFC 8247); valid: 2")
        }
        let profileText = o.string("profile", required: false, &p) ?? "strong"
        let profile = IPsecSite.Profile(rawValue: profileText)
        if profile == nil { p.add("\(path).profile", "\(Echo.quoted(profileText)) is not a profile; valid: strong, compatible"); ok = false }
        let childText = o.string("childSAs", required: false, &p) ?? "combined"
        let childSAs = IPsecSite.ChildSAs(rawValue: childText)
        if childSAs == nil {
            p.add("\(path).childSAs", "\(Echo.quoted(childText)) is not a CHILD_SA shape; valid: combined (one CHILD_SA with every subnet as traffic selectors), perPair (one CHILD_SA per local/remote subnet pair, as routers with one phase 2 per pair want)")
            ok = false
        }
        func proposals(_ key: String) -> [String]? {
            guard let items = o.array(key, required: false, &p) else { return nil }
            if items.isEmpty { p.add("\(path).\(key)", "is empty; valid: at least one proposal, or leave it out for the profile's") }
            var out: [String] = []
            for (k, item) in items.enumerated() {
                guard case .string(let s) = item else { p.add("\(path).\(key)[\(k)]", "is \(item.typeName); valid: a proposal such as aes256gcm16-prfsha384-ecp384"); continue }
                out.append(s)
            }
            return out
        }
        let ike = proposals("ikeProposals"), esp = proposals("espProposals")
        let ikeLifetime = o.integer("ikeLifetime", in: 300...86400, &p, hint: "seconds") ?? 28800
        let childLifetime = o.integer("childLifetime", in: 120...86400, &p, hint: "seconds") ?? 3600
        if childLifetime >= ikeLifetime {
            p.add("\(path).childLifetime", "\(childLifetime) must be shorter than ikeLifetime (\(ikeLifetime)); valid: such as 3600 with 28800")
        }
        var dpdDelay = 10, dpdTimeout = 30, dpdAction = IPsecSite.DPDAction.restart
        if let d = o.value("dpd", &p) {
            if let dp = ObjectReader(d, path: "\(path).dpd", &p) {
                dpdDelay = dp.integer("delay", in: 1...3600, &p, hint: "seconds") ?? dpdDelay
                dpdTimeout = dp.integer("timeout", in: 3...86400, &p, hint: "seconds") ?? dpdTimeout
                if let a = dp.string("action", required: false, &p) {
                    if let x = IPsecSite.DPDAction(rawValue: a) { dpdAction = x } else {
                        p.add("\(path).dpd.action", "\"\(Echo.value(a))\" is not a DPD action; valid: restart, clear, trap"); ok = false
                    }
                }
                if dpdTimeout < 3 * dpdDelay {
                    p.add("\(path).dpd.timeout", "\(dpdTimeout) is less than 3 x delay (\(dpdDelay)); valid: at least \(3 * dpdDelay)")
                }
                dp.finish(&p, known: ["delay", "timeout", "action"])
            } else { ok = false }
        }
        let startText = o.string("startAction", required: false, &p) ?? "trap"
        let start = IPsecSite.StartAction(rawValue: startText)
        if start == nil { p.add("\(path).startAction", "\"\(Echo.value(startText))\" is not a start action; valid: trap (default: nothing leaks while down), start, none"); ok = false }

        var auth: IPsecSite.Auth? = nil
        func pathValue(_ r: ObjectReader, _ key: String, _ at: String) -> String? {
            guard let s = r.string(key, required: true, &p) else { return nil }
            if let why = pathProblem(s) { p.add("\(at).\(key)", why); return nil }
            return s
        }
        let pskValue = o.value("psk", &p), certValue = o.value("certificate", &p)
        switch (pskValue, certValue) {
        case (let v?, nil):
            if let po = ObjectReader(v, path: "\(path).psk", &p) {
                if let f = pathValue(po, "file", "\(path).psk") { auth = .psk(file: f) }
                po.finish(&p, known: ["file"])
            }
        case (nil, let v?):
            if let co = ObjectReader(v, path: "\(path).certificate", &p) {
                let c = pathValue(co, "cert", "\(path).certificate"), k = pathValue(co, "key", "\(path).certificate"), a = pathValue(co, "ca", "\(path).certificate")
                if let c, let k, let a { auth = .certificates(cert: c, key: k, ca: a) }
                co.finish(&p, known: ["cert", "key", "ca"])
            }
        case (nil, nil):
            p.add("\(path)", "needs authentication: \"psk\": { \"file\": ... } or \"certificate\": { \"cert\", \"key\", \"ca\" }")
        case (_?, _?):
            p.add("\(path).certificate", "give either psk or certificate, not both")
        }
        if auth == nil { ok = false }
        let allowWeak = o.bool("allowWeak", &p) ?? false
        let intended = o.bool("overlapsDevicesIntended", &p) ?? false
        let mtu = o.integer("mtu", in: 576...9000, &p, hint: "bytes (inner MTU of the tunnel)") ?? 1436
        let mss = o.integer("mss", in: 536...8960, &p, hint: "bytes")
        let v6 = [local?.subnets ?? [], remote?.subnets ?? [], [insides.0, insides.1].compactMap { $0 }].joined().first { $0.family == .v6 }
        if let v6, mtu < IPsecSite.minimumIPv6MTU {
            p.add("\(path).mtu", "\(mtu) is below \(IPsecSite.minimumIPv6MTU), the minimum MTU of a link carrying IPv6 (RFC 8200), and the site carries IPv6 (\(v6)); valid: \(IPsecSite.minimumIPv6MTU)...9000")
        }
        o.finish(&p, known: ["name", "mode", "route", "local", "remote", "ikeVersion", "legacyIKEv1", "profile", "childSAs", "ikeProposals",
                             "espProposals", "ikeLifetime", "childLifetime", "dpd", "startAction", "psk", "certificate",
                             "allowWeak", "overlapsDevicesIntended", "mtu", "mss"])
        // Problems of one field that leave a complete site (a version without legacyIKEv1,
        // lifetimes, DPD, route settings, families, duplicate names) do not stop it: it is
        // built, so crossCheck lints its proposals and selectors in the same run; the
        // problems already recorded fail the decode. A site that cannot be built (a value
        // missing or not valid) is linted here with what decoded (issue 10 round 3).
        guard ok, let name, let mode, let local, let remote, let profile, let childSAs, let start, let auth else {
            let partial = IPsecSite(name: name ?? "", local: local ?? partialEnd("local", decoded["local"], inside: insides.0, mode: mode),
                                    remote: remote ?? partialEnd("remote", decoded["remote"], inside: insides.1, mode: mode),
                                    mode: mode ?? .policy, ifId: ifId, ikeVersion: ikeVersion, legacyIKEv1: legacy, profile: profile ?? .strong,
                                    childSAs: childSAs ?? .combined, ikeProposals: ike, espProposals: esp, ikeLifetime: ikeLifetime,
                                    childLifetime: childLifetime, dpdDelay: dpdDelay, dpdTimeout: dpdTimeout, dpdAction: dpdAction,
                                    startAction: start ?? .trap, auth: auth ?? .psk(file: ""), allowWeak: allowWeak,
                                    overlapsDevicesIntended: intended, mtu: mtu, mss: mss)
            let index = decoded.mapValues(\.indices)
            // An end whose subnets did not all decode was already reported; it is not empty.
            let incomplete = ["local", "remote"].filter { decoded[$0]?.complete != true }.map { "\(path).\($0).subnets" }
            lintErrors(partial, path: path, devices: devices, configIndex: index, except: incomplete, &p)
            return nil
        }
        return IPsecSite(name: name, local: local, remote: remote, mode: mode, ifId: ifId, ikeVersion: ikeVersion, legacyIKEv1: legacy,
                         profile: profile, childSAs: childSAs, ikeProposals: ike, espProposals: esp, ikeLifetime: ikeLifetime, childLifetime: childLifetime,
                         dpdDelay: dpdDelay, dpdTimeout: dpdTimeout, dpdAction: dpdAction, startAction: start, auth: auth,
                         allowWeak: allowWeak, overlapsDevicesIntended: intended, mtu: mtu, mss: mss)
    }

    /// An end of a site that cannot be built, for linting only: the subnets that decoded
    /// (route mode's default when there are none) and a placeholder address, which no
    /// check reads.
    private static func partialEnd(_ key: String, _ d: (subnets: [IPPrefix], indices: [Int], complete: Bool)?, inside: IPPrefix?,
                                   mode: IPsecSite.Mode?) -> IPsecSite.End {
        var subnets = d?.subnets ?? []
        if mode == .route && subnets.isEmpty { subnets = [IPPrefix("0.0.0.0/0")!] }
        return IPsecSite.End(address: IPAddress("0.0.0.0")!, id: "", subnets: subnets, insideAddress: inside)
    }

    private static func describe(_ c: Character) -> String {
        switch c {
        case "\n": return "a newline"
        case " ": return "a space"
        case "\"": return "a double quote"
        case "'": return "a single quote"
        case "{", "}": return "a brace"
        default:
            if let a = c.asciiValue, a < 0x20 || a == 0x7f { return "a control character" }
            return c.isASCII ? "'\(c)'" : "a non-ASCII character"
        }
    }
}
