/// Checks of an IPsec site beyond its shape: proposals against RFC 8221 (ESP), RFC 8247
/// (IKEv2) and strongSwan's recommendations, traffic selectors, and the pre-shared key.
/// Errors stop validate/render/apply; warnings are printed (and are the only trace of a
/// weak algorithm a site allowed with `allowWeak`).
public enum IPsecLint {
    enum Kind { case encryption, aead, integrity, prf, dh, esn }

    /// One strongSwan proposal keyword: its role, why it is weak (nil: it is not), its
    /// name in libreswan's syntax (nil: libreswan has none), and its name for a person.
    struct Algorithm {
        let kind: Kind
        let weak: String?
        let libreswan: String?
        let human: String
    }

    /// Every keyword gatepeer knows: the one table lint, the libreswan renderer and the
    /// parameter sheet read.
    static let keywords: [String: Algorithm] = {
        var k: [String: Algorithm] = [:]
        func add(_ name: String, _ kind: Kind, _ human: String, libreswan: String?, weak: String? = nil) {
            k[name] = Algorithm(kind: kind, weak: weak, libreswan: libreswan, human: human)
        }
        for b in ["128", "192", "256"] {
            add("aes\(b)", .encryption, "AES-\(b)-CBC", libreswan: "aes\(b)")
            add("aes\(b)ctr", .encryption, "AES-\(b)-CTR", libreswan: "aes_ctr\(b)")
            add("camellia\(b)", .encryption, "Camellia-\(b)-CBC", libreswan: "camellia\(b)")
            add("aes\(b)gcm", .aead, "AES-\(b)-GCM (16-octet ICV)", libreswan: "aes_gcm\(b)")
            add("aes\(b)gcm16", .aead, "AES-\(b)-GCM (16-octet ICV)", libreswan: "aes_gcm\(b)")
            let short = "an ICV shorter than 16 octets (RFC 8221 recommends AES-GCM with a 16-octet ICV)"
            add("aes\(b)gcm12", .aead, "AES-\(b)-GCM (12-octet ICV)", libreswan: "aes_gcm_b\(b)", weak: short)
            add("aes\(b)gcm8", .aead, "AES-\(b)-GCM (8-octet ICV)", libreswan: "aes_gcm_a\(b)", weak: short)
            // libreswan has no AES-CCM for IKE: not rendered for it.
            add("aes\(b)ccm16", .aead, "AES-\(b)-CCM (16-octet ICV)", libreswan: nil)
            add("aes\(b)ccm12", .aead, "AES-\(b)-CCM (12-octet ICV)", libreswan: nil, weak: "an ICV shorter than 16 octets (RFC 8221)")
            add("aes\(b)ccm8", .aead, "AES-\(b)-CCM (8-octet ICV)", libreswan: nil, weak: "an ICV shorter than 16 octets (RFC 8221)")
        }
        add("chacha20poly1305", .aead, "ChaCha20-Poly1305", libreswan: "chacha20_poly1305")
        add("3des", .encryption, "3DES-CBC", libreswan: "3des", weak: "3DES: 64-bit blocks (RFC 8221 SHOULD NOT, RFC 8247 MAY-)")
        add("des", .encryption, "DES-CBC", libreswan: nil, weak: "DES: broken (RFC 8221 MUST NOT)")
        add("cast128", .encryption, "CAST-128", libreswan: nil, weak: "CAST-128: 64-bit blocks (not in RFC 8221)")
        add("blowfish", .encryption, "Blowfish", libreswan: nil, weak: "Blowfish: 64-bit blocks (not in RFC 8221)")
        add("null", .encryption, "no encryption", libreswan: nil, weak: "no encryption (ENCR_NULL)")
        // Integrity and, with a "prf" prefix, the PRF of the same hash.
        for (name, lsw, integ, prf) in [("sha256", "sha2_256", "HMAC-SHA2-256-128", "PRF-HMAC-SHA2-256"),
                                         ("sha384", "sha2_384", "HMAC-SHA2-384-192", "PRF-HMAC-SHA2-384"),
                                         ("sha512", "sha2_512", "HMAC-SHA2-512-256", "PRF-HMAC-SHA2-512"),
                                         ("aesxcbc", "aes_xcbc", "AES-XCBC-96", "PRF-AES128-XCBC"),
                                         ("aescmac", "aes_cmac", "AES-CMAC-96", "PRF-AES128-CMAC")] {
            add(name, .integrity, integ, libreswan: lsw)
            add("prf" + name, .prf, prf, libreswan: lsw)
        }
        // HMAC-SHA1-96 is still allowed as integrity (RFC 8221 MUST-), not as a PRF.
        add("sha1", .integrity, "HMAC-SHA1-96", libreswan: "sha1")
        add("prfsha1", .prf, "PRF-HMAC-SHA1", libreswan: "sha1", weak: "SHA-1 as PRF (RFC 8247 MUST-, strongSwan: avoid)")
        add("md5", .integrity, "HMAC-MD5-96", libreswan: "md5", weak: "MD5 (RFC 8221 MUST NOT, RFC 8247 MUST NOT)")
        add("prfmd5", .prf, "PRF-HMAC-MD5", libreswan: "md5", weak: "MD5 as PRF (RFC 8247 MUST NOT)")
        for (name, group, human) in [("modp2048", 14, "MODP-2048"), ("modp3072", 15, "MODP-3072"), ("modp4096", 16, "MODP-4096"),
                                     ("modp6144", 17, "MODP-6144"), ("modp8192", 18, "MODP-8192"), ("ecp256", 19, "ECP-256"),
                                     ("ecp384", 20, "ECP-384"), ("ecp521", 21, "ECP-521"), ("curve25519", 31, "Curve25519"),
                                     ("x25519", 31, "Curve25519"), ("ecp256bp", 28, "ECP-256 Brainpool"), ("ecp384bp", 29, "ECP-384 Brainpool"),
                                     ("ecp512bp", 30, "ECP-512 Brainpool"), ("curve448", 32, "Curve448"), ("x448", 32, "Curve448")] {
            add(name, .dh, "DH group \(group) (\(human))", libreswan: group <= 21 || group == 31 ? "dh\(group)" : nil)
        }
        for (name, group, human, why) in [("modp768", 1, "MODP-768", "MODP-768 (RFC 8247 MUST NOT)"),
                                          ("modp1024", 2, "MODP-1024", "MODP-1024 (RFC 8247 SHOULD NOT)"),
                                          ("modp1536", 5, "MODP-1536", "MODP-1536 (RFC 8247 MAY-; below 2048 bits)"),
                                          ("ecp192", 25, "ECP-192", "ECP-192 (below 128-bit security)"),
                                          ("ecp224", 26, "ECP-224", "ECP-224 (not recommended by RFC 8247)"),
                                          ("ecp224bp", 27, "ECP-224 Brainpool", "ECP-224 Brainpool (not recommended by RFC 8247)"),
                                          ("modp1024s160", 22, "MODP-1024 with subgroup", "MODP-1024 with subgroup (RFC 8247 SHOULD NOT)"),
                                          ("modp2048s224", 23, "MODP-2048 with 224-bit subgroup", "MODP-2048 with 224-bit subgroup (RFC 8247 SHOULD NOT)"),
                                          ("modp2048s256", 24, "MODP-2048 with 256-bit subgroup", "MODP-2048 with 256-bit subgroup (RFC 8247 SHOULD NOT)")] {
            add(name, .dh, "DH group \(group) (\(human))", libreswan: group == 2 || group == 5 ? "dh\(group)" : nil, weak: why)
        }
        add("esn", .esn, "extended sequence numbers", libreswan: nil)
        add("noesn", .esn, "no extended sequence numbers", libreswan: nil)
        return k
    }()

    /// What is wrong with one proposal (`errors`) and which weak algorithms it uses
    /// (`weak`). `ike`: an IKE proposal (needs a key exchange, and an explicit PRF with
    /// AEAD); otherwise ESP.
    static func checkProposal(_ text: String, ike: Bool) -> (errors: [String], weak: [String]) {
        var out: [String] = []
        func error(_ m: String) { out.append(m) }
        let tokens = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        var kinds: [Kind] = []
        var weak: [String] = []
        for t in tokens {
            guard let k = keywords[t.lowercased()], t == t.lowercased() else {
                let hint = t.isEmpty ? "an empty keyword (two '-' in a row?)" : "unknown keyword \"\(Echo.value(t))\""
                error("\(hint) in \"\(Echo.value(text))\"; valid keywords are strongSwan's, such as aes256gcm16, aes256, sha384, prfsha384, ecp384, modp3072, curve25519")
                continue
            }
            if k.kind == .esn && ike { error("\(t) applies to ESP only, not to IKE proposals") }
            kinds.append(k.kind)
            if let w = k.weak { weak.append(w) }
        }
        // The shape checks would only repeat an unknown keyword's consequences; the weak
        // algorithms found so far are real and reported with it.
        guard out.isEmpty else { return (out, weak.map { "\"\(text)\" uses \($0)" }) }
        let hasAEAD = kinds.contains(.aead), hasEnc = kinds.contains(.encryption)
        let hasInteg = kinds.contains(.integrity), hasPRF = kinds.contains(.prf), hasDH = kinds.contains(.dh)
        if !hasAEAD && !hasEnc { error("\"\(text)\" has no encryption algorithm; valid: such as aes256gcm16 or aes256") }
        if hasAEAD && hasEnc { error("\"\(text)\" mixes AEAD and non-AEAD encryption; make separate proposals") }
        if hasAEAD && hasInteg { error("\"\(text)\" gives an integrity algorithm with AEAD (AEAD has its own); drop it") }
        if hasEnc && !hasInteg { error("\"\(text)\" has no integrity algorithm; valid: such as sha256 or sha384") }
        if ike {
            if hasAEAD && !hasPRF { error("\"\(text)\" is AEAD without a PRF; IKE needs one, such as prfsha384") }
            if !hasDH { error("\"\(text)\" has no key exchange (DH group); valid: such as ecp384, modp3072 or curve25519") }
            // Without an explicit PRF, strongSwan derives it from the integrity algorithm.
            if !hasPRF, tokens.contains("sha1") { weak.append("SHA-1 as PRF (implied by sha1 without a prf keyword; RFC 8247 MUST-)") }
            if !hasPRF, tokens.contains("md5") { weak.append("MD5 as PRF (implied by md5)") }
        } else if hasPRF {
            error("\"\(text)\" gives a PRF, which ESP proposals do not have; drop it")
        }
        return (out, weak.map { "\"\(text)\" uses \($0)" })
    }

    /// A proposal's identity: its keywords grouped by role, each group in the order given
    /// (the order within a role is the preference, the order between roles means
    /// nothing). A proposal with an unknown keyword is only equal to its own text.
    static func canonical(_ proposal: String) -> String {
        let tokens = proposal.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        let roles = tokens.compactMap { keywords[$0]?.kind }
        guard roles.count == tokens.count else { return proposal }
        let order: [Kind] = [.encryption, .aead, .integrity, .prf, .dh, .esn]
        return order.map { k in zip(tokens, roles).filter { $0.1 == k }.map(\.0).joined(separator: "-") }.joined(separator: "|")
    }

    /// The proposals (given, or the profile's) and the IKE version: the checks that need
    /// nothing else of a site, so the decoder can run them for a site it cannot build.
    static func checkAlgorithms(ike: [String]?, esp: [String]?, profile: IPsecSite.Profile, ikeVersion: Int, legacyIKEv1: Bool,
                                allowWeak: Bool, path: String) -> [IPsecFinding] {
        var out: [IPsecFinding] = []
        func finding(_ sev: IPsecFinding.Severity, _ at: String, _ m: String) { out.append(IPsecFinding(severity: sev, path: at, message: m)) }
        let proposalSets: [(String, [String], Bool)] = [
            (ike == nil ? "profile \(profile.rawValue) (IKE)" : "ikeProposals", ike ?? IPsecSite.profileProposals(profile).ike, true),
            (esp == nil ? "profile \(profile.rawValue) (ESP)" : "espProposals", esp ?? IPsecSite.profileProposals(profile).esp, false),
        ]
        for (key, list, ike) in proposalSets {
            var first: [String: Int] = [:]
            for (i, prop) in list.enumerated() {
                let at = key.hasPrefix("profile") ? "\(path).profile" : "\(path).\(key)[\(i)]"
                // A repeat is never chosen (the first copy matches first): a mistake, reported
                // once here instead of repeating every finding of the first copy.
                let same = canonical(prop)
                if let j = first[same] {
                    let spelled = list[j] == prop ? "" : " (\"\(Echo.value(list[j]))\", the same algorithms in another order)"
                    finding(.error, at, "\"\(Echo.value(prop))\" is the same as \(key)[\(j)]\(spelled); valid: each proposal once")
                    continue
                }
                first[same] = i
                let (errors, weak) = checkProposal(prop, ike: ike)
                for e in errors { finding(.error, at, e) }
                for w in weak {
                    if allowWeak { finding(.warning, at, w + " (allowed by allowWeak)") } else {
                        finding(.error, at, w + "; use a strong proposal, or set \"allowWeak\": true to accept it with a warning")
                    }
                }
            }
        }
        // Without legacyIKEv1 the decoder already said that IKEv1 needs it and is weak.
        if ikeVersion == 1 && legacyIKEv1 {
            let m = "IKEv1 is legacy (RFC 8247: IKEv2 only; strongSwan recommends IKEv2)"
            if allowWeak { finding(.warning, "\(path).ikeVersion", m + " (allowed by allowWeak)") } else {
                finding(.error, "\(path).ikeVersion", m + "; valid: 2, or set \"allowWeak\": true")
            }
        }

        return out
    }

    /// Config-only checks (no files): proposals, IKE version, selectors, device subnets.
    /// Weak algorithms are errors unless the site allows them; then they are warnings.
    /// `configIndex`: for a site the decoder built from the fields that decoded, the
    /// config index of each of an end's subnets ("local", "remote"); a subnet that did
    /// not decode is left out of the site, and the ones after it keep their own index in
    /// paths and messages. Empty: the site's indices are the config's.
    public static func check(_ site: IPsecSite, path: String, deviceSubnets: [(link: String, subnet: IPPrefix)],
                             configIndex: [String: [Int]] = [:]) -> [IPsecFinding] {
        var out = checkAlgorithms(ike: site.ikeProposals, esp: site.espProposals, profile: site.profile, ikeVersion: site.ikeVersion,
                                  legacyIKEv1: site.legacyIKEv1, allowWeak: site.allowWeak, path: path)
        func finding(_ sev: IPsecFinding.Severity, _ at: String, _ m: String) { out.append(IPsecFinding(severity: sev, path: at, message: m)) }
        func at(_ key: String, _ i: Int) -> Int { configIndex[key].map { $0[i] } ?? i }

        for (key, end) in [("local", site.local), ("remote", site.remote)] {
            if end.subnets.isEmpty {
                finding(.error, "\(path).\(key).subnets", "is empty; valid: the prefixes this end protects, such as [\"10.1.0.0/24\"]")
            }
            // One sweep, not every pair: each subnet is reported once, naming the first
            // earlier one it overlaps (issue 10 item 6).
            let owners = PrefixOverlap.owners(end.subnets.enumerated().map { .init(prefix: $1, owner: $0, member: true) })
            for (j, b) in end.subnets.enumerated() {
                if let i = owners[j].first(except: j), i < j {
                    finding(.error, "\(path).\(key).subnets[\(at(key, j))]", "\(b) overlaps \(end.subnets[i]) (subnets[\(at(key, i))]); valid: disjoint prefixes")
                }
            }
        }
        // A subnet of a family the other end has none of pairs with nothing: neither
        // shape can carry its traffic (strongSwan narrows a combined CHILD_SA per family,
        // perPair pairs within one family). An empty end was reported above.
        for (key, end, otherKey, other) in [("local", site.local, "remote", site.remote), ("remote", site.remote, "local", site.local)] where !other.subnets.isEmpty {
            let families = Set(other.subnets.map(\.family))
            for (i, s) in end.subnets.enumerated() where !families.contains(s.family) {
                finding(.error, "\(path).\(key).subnets[\(at(key, i))]", "\(s) is \(s.family.name), but \(otherKey).subnets has no \(s.family.name) prefix: no CHILD_SA can carry its traffic (selectors pair within one family); valid: an \(s.family.name) subnet at the \(otherKey) end too, or leave it out")
            }
        }
        /// For each of `asking`, the first of `members` overlapping it.
        func firstOverlapping(_ asking: [IPPrefix], in members: [IPPrefix]) -> [Int?] {
            let items = members.enumerated().map { PrefixOverlap.Item(prefix: $1, owner: $0, member: true) }
                + asking.map { PrefixOverlap.Item(prefix: $0, owner: -1, member: false) }
            return PrefixOverlap.owners(items).suffix(asking.count).map { $0.first(except: -1) }
        }
        if site.mode == .policy {
            for (j, (b, i)) in zip(site.remote.subnets, firstOverlapping(site.remote.subnets, in: site.local.subnets)).enumerated() {
                if let i {
                    finding(.error, "\(path).remote.subnets[\(at("remote", j))]", "\(b) overlaps local.subnets[\(at("local", i))] \(site.local.subnets[i]): traffic between them could not be told apart; valid: disjoint prefixes")
                }
            }
            if !site.overlapsDevicesIntended {
                for (key, end) in [("local", site.local), ("remote", site.remote)] {
                    for (i, (s, k)) in zip(end.subnets, firstOverlapping(end.subnets, in: deviceSubnets.map(\.subnet))).enumerated() {
                        if let k {
                            let d = deviceSubnets[k]
                            finding(.error, "\(path).\(key).subnets[\(at(key, i))]", "\(s) overlaps the device subnet \(d.subnet) of link \(d.link); if that is intended (devices reach the site through the tunnel), set \"overlapsDevicesIntended\": true")
                        }
                    }
                }
            }
        }
        let headers = site.carriesIPv6 ? 60 : 40
        if site.effectiveMSS > site.mtu - headers {
            let why = site.carriesIPv6 ? " with IPv6 headers (60 bytes with TCP's)" : ""
            finding(.error, "\(path).mss", "\(site.effectiveMSS) does not fit the tunnel MTU \(site.mtu)\(why); valid: at most \(site.mtu - headers)")
        }
        let pairs = site.subnetPairCount
        if site.childSAs == .perPair && pairs > IPsecSite.maxPerPairChildren {
            finding(.error, "\(path).childSAs", "perPair: \(site.local.subnets.count) local x \(site.remote.subnets.count) remote subnets make \(pairs) CHILD_SAs; valid: at most \(IPsecSite.maxPerPairChildren) pairs, or combined (one CHILD_SA with every subnet)")
        }
        if site.childSAs == .combined && pairs > 1 {
            finding(.warning, "\(path).childSAs", "combined: one CHILD_SA carries all \(pairs) subnet pairs; a router configured with one phase 2 per subnet pair (the Fortigate/Cisco way) narrows it to one pair and the other pairs lose every packet. The other end must take all selectors in one child SA (the sheet says so), or set \"childSAs\": \"perPair\"")
        }
        if site.startAction == .none {
            finding(.warning, "\(path).startAction", "none: the tunnel comes up only when the other end starts it, and nothing traps traffic while it is down")
        }
        return out
    }

    /// The pre-shared key as read from its file. `absent`: no file at the path (ENOENT),
    /// the only case where making one is suggested; `unreadable`: anything else that kept
    /// it from being read (not a regular file, too large, permissions), with the reason;
    /// `mode`: the file's permission bits.
    public enum PSKInput: Equatable, Sendable {
        case absent
        case unreadable(String)
        case file(mode: UInt32, bytes: [UInt8])
    }

    /// The key's raw bytes (0s base64, 0x hex, or the text itself), or findings; every
    /// problem of the file at once. A text key must be what a person sees, because the
    /// other end is usually given it by eye: a trailing newline is dropped silently; a
    /// UTF-8 byte order mark and CRLF line ends (a Windows editor's) are dropped with a
    /// warning; any other invisible character (control, format, zero-width, non-breaking
    /// or other non-ASCII space, line separators) is refused with its code point and
    /// position, since nobody can tell whether the other end has it.
    public static func psk(_ input: PSKInput, path: String, file: String) -> (key: [UInt8]?, findings: [IPsecFinding]) {
        var findings: [IPsecFinding] = []
        func error(_ m: String) { findings.append(IPsecFinding(severity: .error, path: path, message: m)) }
        func warning(_ m: String) { findings.append(IPsecFinding(severity: .warning, path: path, message: m)) }
        func result(_ key: [UInt8]) -> (key: [UInt8]?, findings: [IPsecFinding]) {
            (findings.contains { $0.severity == .error } ? nil : key, findings)
        }
        switch input {
        case .absent:
            error("\(file) does not exist; create it with: (umask 077; gatepeer ipsec psk > \(Shell.quote(file)))")
            return (nil, findings)
        case .unreadable(let why):
            // Following a "create it" hint here would overwrite a key, or block on a FIFO.
            error("\(file) cannot be read (\(why)); valid: a regular file holding the key")
            return (nil, findings)
        case .file(let mode, var bytes):
            if mode & 0o077 != 0 {
                error("\(file) has mode \(String(mode & 0o777, radix: 8)): readable or writable by group or others; valid: 600 or 400 (chmod 600 \(Shell.quote(file)))")
            }
            var crlf = false
            while bytes.last == 0x0a {
                bytes.removeLast()
                if bytes.last == 0x0d { bytes.removeLast(); crlf = true }
            }
            if crlf { warning("\(file) ends in CRLF (as Windows editors save): the CR was dropped, the key is the text before it") }
            if bytes.starts(with: [0xef, 0xbb, 0xbf]) {
                bytes.removeFirst(3)
                warning("\(file) starts with a UTF-8 byte order mark (U+FEFF, as Windows editors save): it was dropped, the key is the text after it")
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let prefix = text.prefix(2).lowercased()
            // strongSwan and libreswan read 0x/0X and 0s/0S as hex and base64.
            if prefix == "0s" || prefix == "0x" {
                let body = String(text.dropFirst(2))
                guard let key = prefix == "0s" ? Base64.decode(body) : hexBytes(body) else {
                    error("\(file): \(prefix)... is not valid \(prefix == "0s" ? "base64" : "hex")")
                    return (nil, findings)
                }
                if key.count < 32 { error("\(file) holds a \(key.count * 8)-bit key; valid: at least 256 bits (gatepeer ipsec psk makes one)") }
                return result(key)
            }
            guard Array(text.utf8) == bytes else {
                error("\(file) is not UTF-8 text; valid: one line of text, 0x<hex> or 0s<base64>")
                return (nil, findings)
            }
            for (i, c) in text.unicodeScalars.enumerated() where invisible(c) {
                error("\(file) contains \(scalarName(c)) at character \(i + 1), which nobody sees: the other end, given the visible key, would not have it; valid: printable characters on one line (or 0x<hex> / 0s<base64>)")
            }
            let ends = [text.first == " " ? "begins" : nil, text.last == " " ? "ends" : nil].compactMap { $0 }
            if !ends.isEmpty {
                let many = text.hasPrefix("  ") || text.hasSuffix("  ") || ends.count == 2
                warning("\(file) \(ends.joined(separator: " and ")) with \(many ? "spaces, which are" : "a space, which is") part of the key; make sure the other end has \(many ? "them" : "it") too")
            }
            if text.unicodeScalars.contains(where: { !$0.isASCII && !invisible($0) }) {
                warning("\(file) holds non-ASCII characters: the key is their UTF-8 bytes, and a router given the text must encode it as UTF-8 too")
            }
            // Text keys: count about 6 bits per character (base64-like alphabets).
            if bytes.count < 43 {
                error("\(file) holds \(bytes.count) characters, fewer than the 43 that carry 256 bits; make one with: gatepeer ipsec psk")
            }
            return result(bytes)
        }
    }

    /// Characters a person cannot see or tell from a space: controls (C0, DEL, C1), format
    /// characters (zero-width space/joiners, byte order mark, bidi marks, soft hyphen),
    /// spaces other than U+0020 (no-break, en, ideographic ...) and line separators.
    static func invisible(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .unassigned, .privateUse, .surrogate: return true
        case .spaceSeparator: return c != " "
        default: return false
        }
    }

    /// "U+200B (ZERO WIDTH SPACE)" or, without a name (controls), "U+001B (a control character)".
    static func scalarName(_ c: Unicode.Scalar) -> String {
        let hex = String(c.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        if let name = c.properties.name { return "\(code) (\(name))" }
        return "\(code) (\(c.properties.generalCategory == .control ? "a control character" : "an unassigned or private code point"))"
    }

    /// A fresh text key from random bytes: 48 letters and digits (about 285 bits), so the
    /// same key can be typed into any vendor's router. The first character is a letter:
    /// strongSwan, libreswan and `psk` read a key that starts with "0x" or "0s" as hex or
    /// base64, so a text key must never start with a digit. Rejection sampling keeps every
    /// character uniform; `random` is called again until enough bytes were accepted.
    public static func newPSK(random: () -> [UInt8]?) -> String? {
        let letters = 52, all = 62
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var key: [UInt8] = []
        while key.count < 48 {
            guard let bytes = random() else { return nil }
            for b in bytes where key.count < 48 {
                let n = key.isEmpty ? letters : all
                let limit = 256 - 256 % n
                if Int(b) < limit { key.append(alphabet[Int(b) % n]) }
            }
        }
        return String(decoding: key, as: UTF8.self)
    }

    static func hexBytes(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0, !u.isEmpty else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < u.count {
            guard let h = hexNibble(u[i]), let l = hexNibble(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }

    private static func hexNibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
}
