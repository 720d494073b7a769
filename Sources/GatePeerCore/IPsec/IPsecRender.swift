/// Renders an IPsec site for one end (`local`: this peer; `remote`: the mirror image for
/// the other side) in strongSwan's swanctl.conf, strongSwan's legacy ipsec.conf/secrets,
/// libreswan's ipsec.conf/secrets, or a parameter sheet for a person at a vendor router.
/// Pure: the key is passed in (read and checked by the caller, IPsecLint.psk).
public enum IPsecRender {
    /// Connection name in every format.
    public static func connectionName(_ site: IPsecSite) -> String { "gatepeer-\(site.name)" }

    /// `key`: the pre-shared key's bytes (nil with certificate authentication); `path`:
    /// the site's place in the config (ipsec.sites[N]), for problems.
    public static func render(_ site: IPsecSite, format: IPsecFormat, side: IPsecSide, key: [UInt8]?,
                              path: String) -> Result<[RenderedFile], ConfigError> {
        let s = side == .local ? site : site.mirrored
        if case .psk = site.auth, key == nil {
            return .failure(ConfigError(problems: [ConfigProblem("\(path).psk", "no key to render")]))
        }
        if case .certificates = site.auth, side == .remote {
            return .failure(ConfigError(problems: [ConfigProblem("\(path).certificate",
                "the other end's certificate and key are its own; render --side remote works with psk only (give the other side the CA and our identity from the sheet)")]))
        }
        if case .certificates = site.auth, format == .strongswanLegacy || format == .libreswan {
            return .failure(ConfigError(problems: [ConfigProblem("\(path).certificate",
                "certificate authentication is rendered for swanctl only (libreswan keeps keys in its NSS database, legacy ipsec.secrets needs the key type); valid: --format swanctl, or psk")]))
        }
        var header = "# gatepeer: IPsec site \"\(site.name)\", \(side == .local ? "this end (gatepeer's peer)" : "the other end (mirror image)"); generated, edit the gatepeer config instead\n"
        if format != .sheet {
            // Not a setting of the IKE daemon: the host's interface MTU and the MSS clamp.
            header += "# recommended: tunnel MTU \(s.mtu), TCP MSS clamp \(s.mssText)\n"
        }
        if let id = s.ifId, format != .sheet {
            // The XFRM interface is the host's, not the IKE daemon's: say how to make it.
            header += "# route-based: traffic is routed into XFRM interface id \(id), e.g.\n"
            // It starts at 1500 bytes, and gatepeer's MSS clamp (`rt mtu`) reads its MTU.
            header += "#   ip link add ipsec\(id) type xfrm dev <outside device> if_id \(id) mtu \(s.mtu)\n"
            if let a = s.local.insideAddress, let b = s.remote.insideAddress {
                header += "#   ip addr add \(a) dev ipsec\(id)   (the other end: \(b.address))\n"
            }
            header += "#   ip link set ipsec\(id) up; ip route add <remote networks> dev ipsec\(id)\n"
        }
        switch format {
        case .swanctl:
            return .success([RenderedFile(name: "\(connectionName(site)).conf", content: header + swanctl(s, secret: key.map { secretText($0, for: .swanctl) }), secret: true)])
        case .strongswanLegacy:
            let (conf, secrets) = legacy(s, secret: secretText(key ?? [], for: .strongswanSecrets))
            return .success([RenderedFile(name: "ipsec.conf", content: header + conf, secret: false),
                             RenderedFile(name: "ipsec.secrets", content: header + secrets, secret: true)])
        case .libreswan:
            return libreswan(s, key: key ?? [], path: path).map { conf, secrets in [RenderedFile(name: "\(connectionName(site)).conf", content: header + conf, secret: false),
                             RenderedFile(name: "\(connectionName(site)).secrets", content: header + secrets, secret: true)] }
        case .sheet:
            return .success([RenderedFile(name: "\(connectionName(site))-\(side.rawValue).txt", content: sheet(s, side: side, key: key), secret: key != nil)])
        }
    }

    /// Where a pre-shared key is written, each with its own quoting rules.
    public enum SecretSyntax: Sendable {
        /// swanctl.conf `secret = ...`: strongSwan's settings parser reads "..." with
        /// backslash escapes (\" and \\); a value starting 0x/0s is decoded even in quotes.
        case swanctl
        /// strongSwan's legacy ipsec.secrets: '...' or "..." taken verbatim, no escapes.
        case strongswanSecrets
        /// libreswan's ipsec.secrets: "..." only, verbatim, no escapes (ipsec.secrets(5):
        /// "cannot contain a newline or double-quote").
        case libreswanSecrets
    }

    /// A key that is text a person can read and type: UTF-8 without invisible characters
    /// (IPsecLint.invisible), not starting with 0x/0s (which readers decode as hex or
    /// base64, in any case).
    public static func isText(_ key: [UInt8]) -> Bool {
        let text = String(decoding: key, as: UTF8.self)
        let prefix = text.prefix(2).lowercased()
        return !key.isEmpty && Array(text.utf8) == key && prefix != "0x" && prefix != "0s"
            && !text.unicodeScalars.contains(where: IPsecLint.invisible)
    }

    /// A text key as quoted text in `syntax`, the form every vendor's router takes too;
    /// any other key, or text the syntax cannot quote (a double quote for libreswan, both
    /// quote marks for strongSwan's ipsec.secrets), as 0s<base64> of its bytes, which
    /// strongSwan and libreswan decode to the same key.
    public static func secretText(_ key: [UInt8], for syntax: SecretSyntax) -> String {
        let base64 = "0s" + Base64.encode(key)
        guard isText(key) else { return base64 }
        let text = String(decoding: key, as: UTF8.self)
        switch syntax {
        case .swanctl:
            let escaped = text.unicodeScalars.map { $0 == "\\" || $0 == "\"" ? "\\" + String($0) : String($0) }.joined()
            return "\"" + escaped + "\""
        case .strongswanSecrets:
            if !text.contains("\"") { return "\"" + text + "\"" }
            return text.contains("'") ? base64 : "'" + text + "'"
        case .libreswanSecrets:
            return text.contains("\"") ? base64 : "\"" + text + "\""
        }
    }

    /// Identities with spaces, '=' or ',' (distinguished names) go in double quotes; the
    /// decoder refused every character that could end a quoted value.
    static func quoted(_ v: String) -> String {
        v.contains(where: { $0 == " " || $0 == "=" || $0 == "," }) ? "\"\(v)\"" : v
    }

    /// The site's CHILD_SAs: one named after the site with every selector (`combined`, or
    /// a single pair), or one per subnet pair named SITE-1, SITE-2, ... in local-major
    /// order (`perPair`). Names are local to each end; the sheet lists the pairs.
    static func children(_ s: IPsecSite) -> [(name: String, local: [IPPrefix], remote: [IPPrefix])] {
        guard s.childSAs == .perPair, s.subnetPairCount > 1 else { return [(s.name, s.local.subnets, s.remote.subnets)] }
        return s.subnetPairs.enumerated().map { (name: "\(s.name)-\($0.offset + 1)", local: [$0.element.local], remote: [$0.element.remote]) }
    }

    // MARK: swanctl.conf

    static func swanctl(_ s: IPsecSite, secret: String?) -> String {
        var o: [String] = []
        let name = connectionName(s)
        let psk: Bool = { if case .psk = s.auth { return true } else { return false } }()
        o.append("connections {")
        o.append("    \(name) {")
        o.append("        version = \(s.ikeVersion)")
        o.append("        local_addrs = \(s.local.address)")
        o.append("        remote_addrs = \(s.remote.address)")
        o.append("        proposals = \(s.effectiveIKE.joined(separator: ","))")
        o.append("        rekey_time = \(s.ikeLifetime)s")
        o.append("        dpd_delay = \(s.dpdDelay)s")
        if s.ikeVersion == 1 { o.append("        dpd_timeout = \(s.dpdTimeout)s") }
        o.append("        mobike = no")
        o.append("        local {")
        o.append("            auth = \(psk ? "psk" : "pubkey")")
        o.append("            id = \(quoted(s.local.id))")
        if case .certificates(let cert, _, _) = s.auth { o.append("            certs = \(cert)") }
        o.append("        }")
        o.append("        remote {")
        o.append("            auth = \(psk ? "psk" : "pubkey")")
        o.append("            id = \(quoted(s.remote.id))")
        if case .certificates(_, _, let ca) = s.auth { o.append("            cacerts = \(ca)") }
        o.append("        }")
        o.append("        children {")
        for child in children(s) {
            o.append("            \(child.name) {")
            o.append("                mode = tunnel")
            o.append("                local_ts = \(child.local.map(\.description).joined(separator: ","))")
            o.append("                remote_ts = \(child.remote.map(\.description).joined(separator: ","))")
            o.append("                esp_proposals = \(s.effectiveESP.joined(separator: ","))")
            o.append("                rekey_time = \(s.childLifetime)s")
            o.append("                dpd_action = \(s.dpdAction.rawValue)")
            o.append("                start_action = \(s.startAction.rawValue)")
            if let id = s.ifId {
                o.append("                if_id_in = \(id)")
                o.append("                if_id_out = \(id)")
            }
            o.append("            }")
        }
        o.append("        }")
        o.append("    }")
        o.append("}")
        o.append("secrets {")
        switch s.auth {
        case .psk:
            o.append("    ike-\(name) {")
            o.append("        id-local = \(quoted(s.local.id))")
            o.append("        id-remote = \(quoted(s.remote.id))")
            o.append("        secret = \(secret ?? "")")
            o.append("    }")
        case .certificates(_, let key, _):
            o.append("    private-\(name) {")
            o.append("        file = \(key)")
            o.append("    }")
        }
        o.append("}")
        return o.joined(separator: "\n") + "\n"
    }

    // MARK: strongSwan legacy ipsec.conf / ipsec.secrets

    static func legacyAuto(_ a: IPsecSite.StartAction) -> String {
        switch a {
        case .trap: return "route"
        case .start: return "start"
        case .none: return "add"
        }
    }

    /// Lifetimes and DPD, as both ipsec.conf dialects write them (strongSwan's legacy
    /// format and libreswan differ in the child lifetime's keyword and one DPD action).
    static func timing(_ s: IPsecSite, childLifetime key: String, dpdAction: String) -> [String] {
        ["    ikelifetime=\(s.ikeLifetime)s", "    \(key)=\(s.childLifetime)s", "    dpddelay=\(s.dpdDelay)s",
         "    dpdtimeout=\(s.dpdTimeout)s", "    dpdaction=\(dpdAction)"]
    }

    static func legacy(_ s: IPsecSite, secret: String) -> (String, String) {
        // One conn per CHILD_SA: charon puts conns with the same ends, identities and
        // IKE proposals under one IKE_SA.
        let conns = children(s).map { child in legacyConn(s, name: child.name == s.name ? connectionName(s) : "gatepeer-\(child.name)",
                                                          local: child.local, remote: child.remote) }
        let secrets = "\(quoted(s.local.id)) \(quoted(s.remote.id)) : PSK \(secret)\n"
        return (conns.joined(separator: "\n"), secrets)
    }

    static func legacyConn(_ s: IPsecSite, name: String, local: [IPPrefix], remote: [IPPrefix]) -> String {
        var o: [String] = ["conn \(name)"]
        o.append("    keyexchange=ikev\(s.ikeVersion)")
        o.append("    type=tunnel")
        o.append("    left=\(s.local.address)")
        o.append("    leftid=\(quoted(s.local.id))")
        o.append("    leftsubnet=\(local.map(\.description).joined(separator: ","))")
        o.append("    right=\(s.remote.address)")
        o.append("    rightid=\(quoted(s.remote.id))")
        o.append("    rightsubnet=\(remote.map(\.description).joined(separator: ","))")
        o.append("    authby=secret")
        // '!' makes the list strict: no strongSwan defaults appended.
        o.append("    ike=\(s.effectiveIKE.joined(separator: ","))!")
        o.append("    esp=\(s.effectiveESP.joined(separator: ","))!")
        o += timing(s, childLifetime: "lifetime", dpdAction: s.dpdAction.rawValue)
        if let id = s.ifId {
            o.append("    if_id_in=\(id)")
            o.append("    if_id_out=\(id)")
        }
        o.append("    auto=\(legacyAuto(s.startAction))")
        return o.joined(separator: "\n") + "\n"
    }

    // MARK: libreswan

    /// A strongSwan proposal in libreswan's syntax, `ENCRYPT[-INTEG or PRF][;DH]` (as
    /// libreswan's algparse reads it: `aes_gcm256-sha2_384;dh20`, `aes_gcm256;dh20`);
    /// nil when a keyword has no libreswan name.
    static func libreswanProposal(_ p: String, ike: Bool) -> String? {
        var enc: [String] = [], integ: [String] = [], prf: [String] = [], dh: [String] = []
        for t in p.split(separator: "-").map(String.init) {
            guard let a = IPsecLint.keywords[t] else { return nil }
            if a.kind == .esn { continue }
            guard let name = a.libreswan else { return nil }
            switch a.kind {
            case .encryption, .aead: enc.append(name)
            case .integrity: integ.append(name)
            case .prf: prf.append(name)
            case .dh: dh.append(name)
            case .esn: break
            }
        }
        // IKE: the second part is the PRF (libreswan derives integrity from it, and AEAD
        // needs none); ESP: the integrity algorithm, if any.
        let second = ike ? (prf.isEmpty ? integ : prf) : integ
        let head = ([enc.joined(separator: "+")] + (second.isEmpty ? [] : [second.joined(separator: "+")])).joined(separator: "-")
        return dh.isEmpty ? head : head + ";" + dh.joined(separator: "+")
    }

    static func libreswanID(_ id: String) -> String {
        if IPAddress(id) != nil { return id }
        if id.contains("=") { return "\"\(id)\"" }  // a distinguished name
        return id.hasPrefix("@") ? id : "@" + id     // an FQDN: '@' stops a DNS lookup
    }

    static func libreswan(_ s: IPsecSite, key: [UInt8], path: String) -> Result<(String, String), ConfigError> {
        // libreswan 4 carries one subnet pair per Child SA: leftsubnets=/rightsubnets= make
        // one per combination, which is `perPair`; it has no way to say `combined`.
        if s.childSAs == .combined && s.subnetPairCount > 1 {
            return .failure(ConfigError(problems: [ConfigProblem("\(path).childSAs",
                "combined (one Child SA for \(s.subnetPairCount) subnet pairs) cannot be written for libreswan, which negotiates one Child SA per subnet pair (leftsubnets=/rightsubnets=); valid for libreswan: \"childSAs\": \"perPair\" (then every end, strongSwan included, uses one Child SA per pair), or one subnet on each side")]))
        }
        func subnets(_ side: String, _ list: [IPPrefix]) -> String {
            list.count == 1 ? "    \(side)subnet=\(list[0])" : "    \(side)subnets={\(list.map(\.description).joined(separator: ","))}"
        }
        var ike: [String] = [], esp: [String] = []
        for (list, isIKE) in [(s.effectiveIKE, true), (s.effectiveESP, false)] {
            for p in list {
                guard let l = libreswanProposal(p, ike: isIKE) else {
                    return .failure(ConfigError(problems: [ConfigProblem("\(path).\(isIKE ? "ikeProposals" : "espProposals")",
                        "\"\(p)\" has no libreswan equivalent (AES-CCM and some groups are strongSwan's only); valid for libreswan: AES-CBC/CTR/GCM, ChaCha20-Poly1305, SHA-1/SHA-2, MODP-2048 and up, ECP, Curve25519")]))
                }
                if isIKE { ike.append(l) } else { esp.append(l) }
            }
        }
        // One conn whose leftsubnets=/rightsubnets= libreswan expands into every
        // combination; with both families that would pair an IPv6 subnet with an IPv4 one,
        // so then one conn per pair of one family, named as the legacy strongSwan format's.
        let families = Set((s.local.subnets + s.remote.subnets).map(\.family))
        let conns = s.childSAs == .perPair && families.count > 1
            ? children(s).map { (name: "gatepeer-\($0.name)", local: $0.local, remote: $0.remote) }
            : [(name: connectionName(s), local: s.local.subnets, remote: s.remote.subnets)]
        var o: [String] = []
        for c in conns {
            if !o.isEmpty { o.append("") }
            o.append("conn \(c.name)")
            o.append("    ikev2=\(s.ikeVersion == 2 ? "yes" : "no")")
            o.append("    type=tunnel")
            o.append("    authby=secret")
            o.append("    left=\(s.local.address)")
            o.append("    leftid=\(libreswanID(s.local.id))")
            o.append(subnets("left", c.local))
            o.append("    right=\(s.remote.address)")
            o.append("    rightid=\(libreswanID(s.remote.id))")
            o.append(subnets("right", c.remote))
            o.append("    ike=\(ike.joined(separator: ","))")
            o.append("    esp=\(esp.joined(separator: ","))")
            o += timing(s, childLifetime: "salifetime", dpdAction: s.dpdAction == .trap ? "hold" : s.dpdAction.rawValue)
            if let id = s.ifId { o.append("    ipsec-interface=\(id)") }
            o.append("    auto=\(s.startAction == .trap ? "ondemand" : s.startAction == .start ? "start" : "add")")
        }
        let secret = secretText(key, for: .libreswanSecrets)
        // Said in the file, so nobody "fixes" the base64 back to text.
        let note = isText(key) && secret.hasPrefix("0s") ? "# the key is text with a double quote, which libreswan's ipsec.secrets cannot quote: 0s<base64> of the same bytes\n" : ""
        let secrets = note + "\(libreswanID(s.local.id)) \(libreswanID(s.remote.id)) : PSK \(secret)\n"
        return .success((o.joined(separator: "\n") + "\n", secrets))
    }

    // MARK: parameter sheet

    static func humanProposal(_ p: String) -> String {
        p.split(separator: "-").map { IPsecLint.keywords[String($0)]?.human ?? String($0) }.joined(separator: ", ")
    }

    static func sheet(_ s: IPsecSite, side: IPsecSide, key: [UInt8]?) -> String {
        var rows: [(String, String)] = []
        rows.append(("Site", s.name))
        rows.append(("This end", side == .local ? "gatepeer's peer" : "the other side (configure your router with these values)"))
        rows.append(("IKE version", "IKEv\(s.ikeVersion)"))
        rows.append(("Local outside address", "\(s.local.address)"))
        rows.append(("Local IKE identity", s.local.id))
        rows.append(("Remote outside address", "\(s.remote.address)"))
        rows.append(("Remote IKE identity", s.remote.id))
        rows.append(("Local networks (traffic selectors)", s.local.subnets.map(\.description).joined(separator: ", ")))
        rows.append(("Remote networks (traffic selectors)", s.remote.subnets.map(\.description).joined(separator: ", ")))
        let count = s.subnetPairCount
        if count == 1 {
            rows.append(("Child SAs (phase 2)", "one, for the one pair of networks above"))
        } else if s.childSAs == .combined {
            rows.append(("Child SAs (phase 2)", "ONE child SA carrying all \(s.local.subnets.count) local and \(s.remote.subnets.count) remote networks as its traffic selectors (\(count) subnet pairs)"))
            rows.append(("", "do not configure one phase 2 per subnet pair: the child SA is then narrowed to one pair and the traffic of the others is lost; if your router can only do one phase 2 per pair, ask for \"childSAs\": \"perPair\""))
        } else {
            rows.append(("Child SAs (phase 2)", "one per subnet pair: configure \(count) phase 2 entries (selectors), one for each pair below"))
            for (i, pair) in s.subnetPairs.enumerated() {
                rows.append(("Phase 2 entry \(i + 1)", "local \(pair.local) <-> remote \(pair.remote)"))
            }
        }
        switch s.auth {
        case .psk:
            rows.append(("Authentication", "pre-shared key"))
            let key = key ?? []
            if isText(key) {
                // The text itself, unquoted: what a person types into the router's field.
                let text = String(decoding: key, as: UTF8.self)
                rows.append(("Pre-shared key", text))
                if text.contains(" ") { rows.append(("", "(\(text.count) characters; the spaces are part of the key)")) }
            } else {
                rows.append(("Pre-shared key", "0s\(Base64.encode(key)) (binary: base64 after 0s; many routers need a text key, made by gatepeer ipsec psk)"))
            }
        case .certificates(let cert, _, let ca):
            rows.append(("Authentication", "certificates (local \(cert), trusted CA \(ca))"))
        }
        for (i, p) in s.effectiveIKE.enumerated() { rows.append(("IKE proposal \(i + 1)", humanProposal(p))) }
        rows.append(("IKE SA lifetime", "\(s.ikeLifetime) s"))
        for (i, p) in s.effectiveESP.enumerated() {
            let pfs = p.split(separator: "-").contains { IPsecLint.keywords[String($0)]?.kind == .dh }
            rows.append(("ESP proposal \(i + 1)", humanProposal(p) + (pfs ? " (PFS)" : ", no PFS")))
        }
        rows.append(("Child SA lifetime", "\(s.childLifetime) s"))
        rows.append(("Dead peer detection", "every \(s.dpdDelay) s, timeout \(s.dpdTimeout) s, then \(s.dpdAction.rawValue)"))
        rows.append(("Start", s.startAction == .trap ? "on traffic (trap): nothing leaks while the tunnel is down" : s.startAction.rawValue))
        if s.mode == .route {
            rows.append(("Mode", "route-based (XFRM interface id \(s.ifId.map(String.init) ?? "-"))"))
            if let a = s.local.insideAddress, let b = s.remote.insideAddress { rows.append(("Inside tunnel addresses", "local \(a), remote \(b)")) }
        } else {
            rows.append(("Mode", "policy-based"))
        }
        rows.append(("Tunnel MTU", "\(s.mtu)"))
        rows.append(("TCP MSS clamp", s.mssText))
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n") + "\n"
    }
}
