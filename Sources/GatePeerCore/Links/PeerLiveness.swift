/// What `gatepeer run` knows of one VPG gate peer's liveness: probes sent through the
/// tunnel to the peer's inner address (or the probe target the config names), judged
/// with rise/fall counts as keepalived and BFD do. Filled by the daemon's liveness
/// service, kept in its runtime report, shown by `status` and `metrics`.
public struct PeerLiveness: Equatable, Sendable {
    /// up: `rise` probes in a row answered; down: `fall` in a row lost; unknown: not
    /// judged yet (no daemon, no probe target, or fewer probes than rise/fall); standby:
    /// not probed because this node is the link's HA standby (the config has `ha` and the
    /// link's outer address is not on its underlay device: keepalived holds it on the
    /// master, so the VPG's answers could not reach this node). Neither down nor unknown:
    /// nothing is wrong and nothing is being judged.
    public enum State: String, Sendable {
        case up, down, unknown, standby
    }

    /// The link (vxlan device) the peer belongs to.
    public var link: String
    /// The peer's outer (VTEP) address, as the config names it.
    public var outerIpAddress: IPAddress
    /// Where probes go: the peer's inner address, or the configured probe target; nil
    /// when there is nothing to probe (state stays unknown).
    public var probeTarget: IPAddress?
    public var state: State
    /// When `state` began, Unix time in seconds (nil while unknown).
    public var since: Double?
    /// Round-trip time of the last answered probe, seconds.
    public var rttSeconds: Double?
    /// Probes sent and probes that got no answer within the timeout, since the daemon started.
    public var probesSent: UInt64
    public var probesLost: UInt64
    /// Changes of `state` between up and down since the daemon started (entering or
    /// leaving standby is none).
    public var transitions: UInt64

    public init(link: String, outerIpAddress: IPAddress, probeTarget: IPAddress?, state: State = .unknown,
                since: Double? = nil, rttSeconds: Double? = nil, probesSent: UInt64 = 0, probesLost: UInt64 = 0,
                transitions: UInt64 = 0) {
        self.link = link
        self.outerIpAddress = outerIpAddress
        self.probeTarget = probeTarget
        self.state = state
        self.since = since
        self.rttSeconds = rttSeconds
        self.probesSent = probesSent
        self.probesLost = probesLost
        self.transitions = transitions
    }
}
