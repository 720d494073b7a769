/// IPsec site-to-site links: one source of truth per site, rendered for both ends
/// (IPsecRender) and linted (IPsecLint). docs/ipsec.md explains the fields.
public struct IPsecSite: Equatable, Sendable {
    /// `policy`: XFRM policies match the traffic selectors; `route`: an XFRM interface
    /// (`ifId`) carries what is routed into it, selectors 0.0.0.0/0 unless given.
    public enum Mode: String, Sendable, CaseIterable { case policy, route }
    /// swanctl's `start_action`: `trap` installs policies and negotiates on the first packet
    /// (nothing leaks while down), `start` negotiates at once, `none` waits for the peer.
    public enum StartAction: String, Sendable, CaseIterable { case trap, start, none }
    /// What to do when dead peer detection (RFC 3706) gives up on the peer: `restart`
    /// the SA, `clear` it, or `trap` (renegotiate on the next packet).
    public enum DPDAction: String, Sendable, CaseIterable { case restart, clear, trap }
    /// The proposals used when a site gives none (`profileProposals`).
    public enum Profile: String, Sendable, CaseIterable { case strong, compatible }
    /// How the subnets become CHILD_SAs (IKEv2; "phase 2" in vendor terms). `combined`:
    /// one CHILD_SA whose traffic selectors list every local and every remote subnet
    /// (RFC 7296 allows several per TS payload). `perPair`: one CHILD_SA per (local
    /// subnet, remote subnet) pair, the shape Fortigate/Cisco-style routers configure
    /// ("one phase 2 selector per pair"); a combined request to such a router is
    /// narrowed to one pair and the other pairs get no SA.
    public enum ChildSAs: String, Sendable, CaseIterable { case combined, perPair }

    /// One end of the tunnel: IKE endpoint, identity, traffic selectors, inside address.
    public struct End: Equatable, Sendable {
        /// Outside (public) address.
        public var address: IPAddress
        /// IKE identity; the outside address when not given.
        public var id: String
        /// Traffic selectors (route mode: 0.0.0.0/0 when not given).
        public var subnets: [IPPrefix]
        /// Route mode: this end's inside tunnel address, e.g. 169.254.21.2/30.
        public var insideAddress: IPPrefix?
    }

    /// How the ends authenticate each other (IKE AUTH).
    public enum Auth: Equatable, Sendable {
        /// A pre-shared key read from a file (0600 or stricter).
        case psk(file: String)
        /// Our certificate and key, and the CA that signs the other end's certificate.
        case certificates(cert: String, key: String, ca: String)
    }

    /// 1-32 letters, digits, '-' or '_', starting with a letter; the connection is `gatepeer-NAME`.
    public var name: String
    /// This peer's end.
    public var local: End
    /// The other end (a vendor router, another gatepeer).
    public var remote: End
    /// Policy-based or route-based (XFRM interface).
    public var mode: Mode
    /// Route mode: the XFRM interface id (if_id_in = if_id_out).
    public var ifId: UInt32?
    /// 2 (IKEv2, RFC 7296); 1 only with `legacyIKEv1`.
    public var ikeVersion: Int
    /// Allows `ikeVersion` 1 (weak, RFC 8247), for routers that speak nothing else.
    public var legacyIKEv1: Bool
    /// Proposals used where `ikeProposals` or `espProposals` is nil.
    public var profile: Profile
    /// One CHILD_SA for all subnets or one per subnet pair (default combined).
    public var childSAs: ChildSAs
    /// nil: the profile's.
    public var ikeProposals: [String]?
    /// strongSwan proposal strings for the CHILD_SAs (ESP), such as aes256gcm16-ecp384.
    public var espProposals: [String]?
    /// IKE SA rekey time, seconds (300...86400, default 28800).
    public var ikeLifetime: Int
    /// CHILD_SA rekey time, seconds (120...86400, shorter than ikeLifetime, default 3600).
    public var childLifetime: Int
    /// Seconds between dead peer detection probes when idle (default 10).
    public var dpdDelay: Int
    /// Seconds without an answer before `dpdAction` (at least 3 x dpdDelay, default 30).
    public var dpdTimeout: Int
    /// What happens when the peer is declared dead.
    public var dpdAction: DPDAction
    /// When the tunnel is negotiated (default trap).
    public var startAction: StartAction
    /// Pre-shared key or certificates.
    public var auth: Auth
    /// Weak algorithms are warnings instead of errors (each still printed by `ipsec lint`).
    public var allowWeak: Bool
    /// Traffic selectors may overlap a link's device subnet (usually: local = devices).
    public var overlapsDevicesIntended: Bool
    /// Inner MTU of the tunnel, bytes (576...9000, 1280 or more with IPv6; default 1436).
    public var mtu: Int
    /// TCP MSS clamp inside the tunnel, bytes; nil: derived from `mtu` (`effectiveMSS`).
    public var mss: Int?

    /// The IKE proposals rendered: the site's, else its profile's.
    public var effectiveIKE: [String] { ikeProposals ?? IPsecSite.profileProposals(profile).ike }
    /// The ESP proposals rendered: the site's, else its profile's.
    public var effectiveESP: [String] { espProposals ?? IPsecSite.profileProposals(profile).esp }
    /// Every (local subnet, remote subnet) pair of one address family, local-major: the
    /// CHILD_SAs of `perPair`. A selector pair of two families can match no packet (an
    /// IPv6 packet has no IPv4 source), so such a pair is no pair.
    public var subnetPairs: [(local: IPPrefix, remote: IPPrefix)] {
        local.subnets.flatMap { l in remote.subnets.filter { $0.family == l.family }.map { (local: l, remote: $0) } }
    }

    /// How many (local, remote) subnet pairs of one family the site has, without building
    /// them: the product grows with the square of the input, so checks count and never list.
    public var subnetPairCount: Int {
        [IPAddress.Family.v4, .v6].map { f in local.subnets.filter { $0.family == f }.count * remote.subnets.filter { $0.family == f }.count }
            .reduce(0, +)
    }

    /// At most this many pairs with `childSAs: perPair`: each is a CHILD_SA of its own (an
    /// SA pair in the kernel, a phase 2 entry on the router), so the rendered files and the
    /// SAs grow with the product of the two subnet lists.
    public static let maxPerPairChildren = 64

    /// Whether any traffic selector or inside address is IPv6: the tunnel then carries
    /// IPv6 packets, which need a 1280-byte MTU and 20 more header bytes than IPv4.
    public var carriesIPv6: Bool {
        (local.subnets + remote.subnets).contains { $0.family == .v6 }
            || [local.insideAddress, remote.insideAddress].contains { $0?.family == .v6 }
    }

    /// Whether any traffic selector or inside address is IPv4.
    public var carriesIPv4: Bool {
        (local.subnets + remote.subnets).contains { $0.family == .v4 }
            || [local.insideAddress, remote.insideAddress].contains { $0?.family == .v4 }
    }

    /// RFC 8200 section 5: every link carrying IPv6 has an MTU of at least 1280 bytes.
    public static let minimumIPv6MTU = 1280

    /// Recommended TCP MSS inside the tunnel, in bytes: `mss`, or the MTU minus the IP and
    /// TCP headers of the largest family carried (40 for IPv4, 60 for IPv6), so one clamp
    /// fits every packet the tunnel carries.
    public var effectiveMSS: Int { mss ?? mtu - (carriesIPv6 ? 60 : 40) }

    /// The MSS for a person (sheet, file headers): one value, or with both families and no
    /// `mss` each family's own ("1396 (IPv4), 1376 (IPv6)").
    public var mssText: String {
        if mss != nil || !carriesIPv6 { return "\(effectiveMSS)" }
        return carriesIPv4 ? "\(mtu - 40) (IPv4), \(mtu - 60) (IPv6)" : "\(mtu - 60) (IPv6)"
    }

    /// The strong profile follows RFC 8221/8247 and strongSwan's recommendations (AEAD,
    /// a SHA-384 PRF, ECP-384; PFS on rekeying). The compatible one is what most
    /// vendor routers accept without being weak (AES-CBC, SHA-256, MODP-2048).
    public static func profileProposals(_ p: Profile) -> (ike: [String], esp: [String]) {
        switch p {
        case .strong: return (["aes256gcm16-prfsha384-ecp384"], ["aes256gcm16-ecp384"])
        case .compatible: return (["aes256-sha256-modp2048", "aes128-sha256-modp2048"], ["aes256-sha256-modp2048", "aes128-sha256-modp2048"])
        }
    }

    /// The mirror image: the other end's view of the same site.
    public var mirrored: IPsecSite {
        var m = self
        m.local = remote
        m.remote = local
        return m
    }
}
