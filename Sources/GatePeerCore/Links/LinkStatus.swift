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
}

/// One VPG gate peer of a link in `status`: its outer address as the kernel's FDB holds
/// it, and what the running daemon's probes say of it (PeerLiveness).
public struct PeerStatus: Equatable, Sendable {
    /// The peer's outer (VTEP) address.
    public var address: IPAddress
    /// up or down as the daemon judged it; unknown without a live daemon, without a probe
    /// target, or before enough probes.
    public var state: PeerLiveness.State
    /// When `state` began, Unix time in seconds.
    public var since: Double?
    /// Round-trip time of the last answered probe, seconds.
    public var rttSeconds: Double?
    /// Probes sent and lost since the daemon started.
    public var probesSent: UInt64
    public var probesLost: UInt64

    /// A peer with nothing known of its liveness (no daemon report).
    public init(address: IPAddress) {
        self.init(address: address, liveness: nil)
    }

    /// A peer with the liveness the daemon reported for it (nil: unknown).
    public init(address: IPAddress, liveness: PeerLiveness?) {
        self.address = address
        state = liveness?.state ?? .unknown
        since = liveness?.since
        rttSeconds = liveness?.rttSeconds
        probesSent = liveness?.probesSent ?? 0
        probesLost = liveness?.probesLost ?? 0
    }

    /// The peer object of `status --json`: address, state, since, rttSeconds, probesSent, probesLost.
    public var json: JSONOut {
        .object(["address": .string(address.description), "state": .string(state.rawValue),
                 "since": since.map { .double($0) } ?? .null, "rttSeconds": rttSeconds.map { .double($0) } ?? .null,
                 "probesSent": .uint(probesSent), "probesLost": .uint(probesLost)])
    }

    /// "100.64.152.4 up rtt 1.25 ms", "100.64.152.5 down since 12:00:03", "... unknown".
    public var text: String {
        var t = "\(address) \(state.rawValue)"
        if state == .up, let rttSeconds { t += " rtt " + PeerStatus.milliseconds(rttSeconds) }
        if state != .unknown, probesSent > 0 { t += " (\(probesLost)/\(probesSent) probes lost)" }
        return t
    }

    /// Seconds as milliseconds with two decimals ("1.25 ms").
    static func milliseconds(_ s: Double) -> String {
        let hundredths = Int((s * 100_000).rounded())
        let frac = hundredths % 100
        return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac) ms"
    }
}
