/// The one naming schema of table inet gatepeer: every table, chain, set, map and named
/// counter name gatepeer writes or reads back is spelled here, and only here. The
/// renderer declares them (NftRenderer), grants and learned addresses address their
/// elements by them (Grant, LearnedAddresses), the loader and the observer find the
/// fingerprint counters by them (Kernel.loadFilter, Kernel.observeFilter), `status`
/// reads its numbers by them (FilterStatus).
///
/// nft keywords (`fwd`, `ip`, ...) cannot be names, hence the prefixes. A name is at most
/// NFT_NAME_MAXLEN - 1 = 255 bytes (the longest, an IPv6 shard map, is 44).
public enum NftNames {
    /// The address family of gatepeer's tables (`inet`: one table for IPv4 and IPv6).
    public static let family = "inet"
    /// The live table.
    public static let table = "gatepeer"
    /// Where the skeleton is built before it is copied into `table` (see Kernel.loadFilter).
    public static let stagingTable = "gatepeer_stage"

    /// The shape of an element key in the grant sets and the learned-address maps, after
    /// the address (grants: source . destination; learned: destination).
    public enum KeyShape: String, CaseIterable, Sendable {
        /// `. inet_proto . inet_service`: a protocol with ports.
        case ports = ""
        /// `. inet_proto`: a protocol, every port.
        case proto = "p"
        /// The address (pair) alone: every protocol.
        case address = "a"
    }

    static func digit(_ family: IPAddress.Family) -> String { family == .v4 ? "4" : "6" }

    // MARK: sets and maps of the skeleton

    /// Set of the tunnel device names (type ifname).
    public static let tunnels = "tunnels"
    /// Interval set of the devices' subnets and LANs of `family` (the sources NAT applies to).
    public static func devices(_ family: IPAddress.Family) -> String { "devices" + digit(family) }
    /// Interval set of the backend prefixes of `family`.
    public static func backends(_ family: IPAddress.Family) -> String { "backends" + digit(family) }
    /// Interval set of temporary grants (elements with timeouts, from the grants state).
    public static func grants(_ family: IPAddress.Family, _ shape: KeyShape) -> String { "grants" + digit(family) + shape.rawValue }
    /// Verdict map source -> group chain of `family`.
    public static func groups(_ family: IPAddress.Family) -> String { "groups" + digit(family) }
    /// Destination map of group `group` (disjoint intervals, per-element counters).
    public static func groupMap(group: Int, family: IPAddress.Family) -> String { "g\(group)_dst" + digit(family) }
    /// The shard map (and its chain) of group `group` for `prefix` (IntervalMap.shards).
    public static func shard(group: Int, prefix: IPPrefix) -> String {
        let a = prefix.address
        let digits = a.family == .v4 ? hex(a.low, width: 8) : hex(a.high, width: 16) + hex(a.low, width: 16)
        return "g\(group)_d" + digit(a.family) + "_\(digits)_\(prefix.length)"
    }
    /// The map of `CompiledPolicy.levels[level]` of group `group`: its port rules
    /// (`g<N>_l<K>p`, protocol . port) or its protocol rules (`g<N>_l<K>t`); one per
    /// distinct level, shared by every bundle chain that inherits it.
    public static func levelMap(group: Int, level: Int, ports: Bool) -> String { "g\(group)_l\(level)\(ports ? "p" : "t")" }
    /// Verdict map of the learned addresses of group `group`'s domain rules (elements with
    /// timeouts, from the learned-addresses state).
    public static func learned(group: Int, family: IPAddress.Family, _ shape: KeyShape) -> String { "g\(group)_dom" + digit(family) + shape.rawValue }
    /// Interval set of the ports of inbound rule `rule`.
    public static func inboundPorts(rule: Int) -> String { "in\(rule)_ports" }
    /// Interval set of the remote subnets of `family` of `ipsec.sites[site]` (MSS clamp).
    public static func ipsecRemote(site: Int, family: IPAddress.Family) -> String { "ipsec\(site)_remote" + digit(family) }
    /// Set of the peers' outer addresses of `config.links[link]` (VXLAN guard).
    public static func vxlanPeers(link: Int) -> String { "vx\(link)_peers" }
    /// Set of the underlay devices of `config.links[link]` (VXLAN guard).
    public static func vxlanDevices(link: Int) -> String { "vx\(link)_dev" }

    // MARK: chains

    /// Base chain, hook forward, priority filter.
    public static let forward = "forward"
    /// Traffic out of the tunnels (jumped to from `forward`).
    public static let outbound = "outbound"
    /// Traffic into the tunnels (jumped to from `forward`).
    public static let inbound = "inbound"
    /// Base chain, hook forward, priority mangle.
    public static let mssClamp = "mss_clamp"
    /// Base chain, hook postrouting, priority srcnat.
    public static let postrouting = "postrouting"
    /// Base chain, hook input, priority filter.
    public static let vxlanGuard = "vxlan_guard"
    /// The chain of outbound group `group` (`outbound` picks it by source).
    public static func groupChain(group: Int) -> String { "g\(group)" }
    /// Bundle chain `bundle` of group `group` (CompiledPolicy.bundles).
    public static func bundleChain(group: Int, bundle: Int) -> String { "g\(group)_b\(bundle)" }

    /// A verdict and its counter: chain `chain` counts in counter `counter`, then decides.
    public struct Verdict: Equatable, Sendable {
        /// The verdict chain (`v_...`): counts, then accepts or drops.
        public let chain: String
        /// The named counter that chain updates; `status` reads it.
        public let counter: String
    }
    /// Outbound traffic allowed by a group rule or default.
    public static let outAllow = Verdict(chain: "v_out_allow", counter: "out_allow")
    /// Outbound traffic denied (logged at a limited rate, then dropped).
    public static let outDeny = Verdict(chain: "v_out_deny", counter: "out_deny")
    /// Traffic into a tunnel allowed by an inbound rule or backend prefix.
    public static let inAllow = Verdict(chain: "v_in_allow", counter: "in_allow")
    /// Traffic into a tunnel that no inbound rule allows.
    public static let inDrop = Verdict(chain: "v_in_drop", counter: "in_drop")
    /// Traffic allowed by a grant (`gatepeer filter grant`).
    public static let grantAllow = Verdict(chain: "v_grant", counter: "grant_allow")
    /// The verdict counters in the order `status` lists them.
    public static let verdicts = [outAllow, outDeny, inAllow, inDrop, grantAllow]

    // MARK: counters (each also names the chain that counts in it)

    /// Per-rule counter (and counting chain) of rule `rule` of group `group`, for rules
    /// reached through bundle chains and domain maps.
    public static func ruleCounter(group: Int, rule: Int) -> String { "r\(group)_\(rule)" }
    /// Counter (and counting chain) of group `group`'s default inside bundles.
    public static func defaultCounter(group: Int) -> String { "g\(group)_default" }
    /// Counter (and chain) of the VXLAN guard's drops for `config.links[link]`.
    public static func guardCounter(link: Int) -> String { "vx\(link)_drop" }

    /// Counters that carry a value in their name (16 hex digits), not a count.
    public enum Metadata: String, CaseIterable, Sendable {
        /// FNV-1a 64 of the text and the destination maps (NftRuleset.fingerprint).
        case fingerprint = "fp_"
        /// FNV-1a 64 of the text alone (NftRuleset.skeletonFingerprint).
        case skeleton = "fs_"
        /// The content digest of the table as loaded (FilterContent.digest), stored by the loader.
        case content = "fk_"

        /// The counter name that carries `value`.
        public func counter(_ value: String) -> String { rawValue + value }

        /// The kind and value of a metadata counter's name; nil for any other name.
        public static func parse(_ name: String) -> (Metadata, String)? {
            for m in allCases where name.hasPrefix(m.rawValue) { return (m, String(name.dropFirst(m.rawValue.count))) }
            return nil
        }
    }

    // MARK: reading names back

    /// N for a destination map of group N (`g<N>_dst4`, `g<N>_dst6`, shards `g<N>_d4_...`,
    /// `g<N>_d6_...`), nil for any other set.
    public static func destinationGroup(ofMap name: String) -> Int? {
        guard name.hasPrefix("g"), let u = name.dropFirst().firstIndex(of: "_") else { return nil }
        let rest = name[name.index(after: u)...]
        guard rest == "dst4" || rest == "dst6" || rest.hasPrefix("d4_") || rest.hasPrefix("d6_") else { return nil }
        return Int(name[name.index(after: name.startIndex)..<u])
    }

    /// The layout of an element key of a set with timeouts, from its name: a grant set
    /// (source . destination, then the shape) or a learned-address map (destination, then
    /// the shape); nil for any other name.
    public static func dynamicLayout(ofSet name: String) -> (family: IPAddress.Family, grant: Bool, shape: KeyShape)? {
        for family in [IPAddress.Family.v4, .v6] {
            for shape in KeyShape.allCases {
                if name == grants(family, shape) { return (family, true, shape) }
                let tail = "_dom" + digit(family) + shape.rawValue
                if name.hasPrefix("g"), name.hasSuffix(tail), Int(name.dropFirst().dropLast(tail.count)) != nil { return (family, false, shape) }
            }
        }
        return nil
    }

    /// Whether `name` is one of the grant sets.
    public static func isGrantSet(_ name: String) -> Bool { dynamicLayout(ofSet: name)?.grant == true }

    private static func hex(_ v: UInt64, width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
