/// Per-link status read from the kernel, for people (`text`) and scripts (`json`).
public struct LinkStatus: Equatable, Sendable {
    /// The link's name (the config's, or an owned link's).
    public var name: String
    /// The kernel has a device of that name.
    public var present: Bool
    /// Its alias marks it gatepeer's (Ownership.aliasPrefix).
    public var owned: Bool
    /// IFLA_OPERSTATE as `ip link` names it; "absent" when not present.
    public var operState: String
    /// IFF_UP: the device is administratively up (false when absent).
    public var isUp = false
    /// The VNI the kernel holds; nil when absent or not vxlan.
    public var vxlanId: UInt32?
    /// UDP destination port the kernel holds.
    public var port: UInt16?
    /// UDP source port range, inclusive.
    public var sourcePortRange: PortRange?
    /// Name of the underlay device (IFLA_VXLAN_LINK resolved).
    public var underlayDevice: String?
    /// The local (outer) address the kernel holds.
    public var outerIpAddress: IPAddress?
    /// MTU, bytes.
    public var mtu: Int?
    /// The device's MAC.
    public var mac: MACAddress?
    /// Whether the device learns MACs.
    public var learning: Bool?
    /// Addresses on the device, link-local ones left out.
    public var innerAddresses: [IPPrefix]
    /// Gate peers: destinations of the device's all-zeros FDB entries, with their liveness
    /// from the running daemon's report (unknown without one).
    public var peers: [PeerStatus]
    /// Interface counters.
    public var stats: LinkStats?
    /// Our routes (protocol 201) out through this device, sorted by destination.
    public var routes: [LANRoute]
    /// FDB entries on the device that are not as gatepeer makes them (drifted, or toward
    /// a host that is not a configured peer), as `bridge fdb` shows them with the reason;
    /// the next apply deletes them.
    public var strayFDB: [String] = []
    /// This node is the link's HA standby (HAStandby: `ha` set, the outer address not on
    /// the underlay); its peers are not probed and not judged.
    public var haStandby = false

    /// The state `status` prints: IFLA_OPERSTATE, except that a device that is up while
    /// the kernel says "unknown" (every vxlan device: it has no carrier of its own) is
    /// "up (operstate unknown)", so the word is not mistaken for a fault.
    public var stateText: String {
        guard present else { return "absent" }
        return operState == "unknown" && isUp ? "up (operstate unknown)" : operState
    }

    /// `status`'s line for a link this node is the HA standby for: "ha: this node is the
    /// HA standby for link gp0 (outer address 172.31.0.254 not on eth0: keepalived holds
    /// it on the master); its peers are not probed".
    public var standbyLine: String {
        "ha: this node is the HA standby for link \(name) (outer address \(outerIpAddress?.description ?? "-") not on "
            + "\(underlayDevice ?? "the underlay"): keepalived holds it on the master); its peers are not probed"
    }
}

/// One VPG gate peer of a link in `status`: its outer address as the kernel's FDB holds
/// it, and what the running daemon's probes say of it (PeerLiveness).
public struct PeerStatus: Equatable, Sendable {
    /// The peer's outer (VTEP) address.
    public var address: IPAddress
    /// The daemon's liveness entry for the peer; nil without a live daemon report or when
    /// the daemon does not know the peer (then its state is unknown).
    public var liveness: PeerLiveness?

    /// A peer with nothing known of its liveness (no daemon report).
    public init(address: IPAddress) {
        self.init(address: address, liveness: nil)
    }

    /// A peer with the liveness the daemon reported for it (nil: unknown).
    public init(address: IPAddress, liveness: PeerLiveness?) {
        self.address = address
        self.liveness = liveness
    }

    /// up or down as the daemon judged it; standby while this node is the link's HA
    /// standby; unknown without a live daemon, without a probe target, or before enough
    /// probes.
    public var state: PeerLiveness.State { liveness?.state ?? .unknown }

    /// The peer object of `status --json`: address, state, since, rttSeconds (only while
    /// up), probesSent, probesLost, transitions (docs/status.md).
    public var json: JSONOut {
        var o = (liveness ?? PeerLiveness(link: "", outerIpAddress: address, probeTarget: nil))
            .livenessMembers(rttSeconds: liveness?.currentRTT)
        o["address"] = .string(address.description)
        return .object(o)
    }

    /// "100.64.152.4 up rtt 1.25 ms", "100.64.152.5 down since 2026-12-01 12:00:03 UTC",
    /// "100.64.152.6 unknown", "100.64.152.7 standby"; up and down with "(lost/sent
    /// probes lost)" once probes were sent.
    public var text: String {
        var t = "\(address) \(state.rawValue)"
        if let rtt = liveness?.currentRTT { t += " rtt " + PeerStatus.milliseconds(rtt) }
        if state == .down, let since = liveness?.since { t += " since " + PeerStatus.utc(since) }
        if state == .up || state == .down, let l = liveness, l.probesSent > 0 { t += " (\(l.probesLost)/\(l.probesSent) probes lost)" }
        return t
    }

    /// Seconds as milliseconds with two decimals ("1.25 ms").
    static func milliseconds(_ s: Double) -> String {
        let hundredths = Int((s * 100_000).rounded())
        let frac = hundredths % 100
        return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac) ms"
    }

    /// Unix time in seconds as "2026-12-01 12:00:03 UTC" (proleptic Gregorian calendar).
    public static func utc(_ unix: Double) -> String {
        let t = Int64(unix.rounded(.down))
        var days = t / 86_400, secs = t % 86_400
        if secs < 0 { secs += 86_400; days -= 1 }
        // Days since 1970-01-01 to a civil date, in 400-year eras starting on March 1st.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60)) UTC"
    }
}
