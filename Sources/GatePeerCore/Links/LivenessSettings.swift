/// How `gatepeer run` probes a link's VPG gate peers (the link's `liveness` object): an
/// ICMP echo through the tunnel every `intervalMs` to each peer's probe target, judged
/// with rise/fall counts as keepalived and BFD do (see LivenessMachine).
public struct LivenessSettings: Equatable, Sendable {
    /// Milliseconds between two probes to one peer while it answers (50...60,000).
    public var intervalMs: Int
    /// Milliseconds an echo may take before it counts as lost, until the peer's round-trip
    /// time is known; after that a probe is lost when it is unanswered well past the
    /// measured RTT (TCP's RTO rule, RFC 6298), never later than this (1...60,000).
    public var timeoutMs: Int
    /// Answered probes in a row that make a peer up (1...100).
    public var rise: Int
    /// Lost probes in a row that make a peer down (1...100).
    public var fall: Int
    /// false: no probes; every peer's state stays unknown and nothing is flushed.
    public var enabled: Bool

    /// The settings of a link whose config has no `liveness` object.
    public static let `default` = LivenessSettings(intervalMs: 1000, timeoutMs: 2000, rise: 3, fall: 3, enabled: true)

    /// Settings as the decoder builds them; ranges are checked there.
    public init(intervalMs: Int, timeoutMs: Int, rise: Int, fall: Int, enabled: Bool) {
        self.intervalMs = intervalMs
        self.timeoutMs = timeoutMs
        self.rise = rise
        self.fall = fall
        self.enabled = enabled
    }

    /// Valid `intervalMs`: at least 50 ms (20 probes a second per peer), at most a minute.
    public static let intervalRange = 50...60_000
    /// Valid `timeoutMs`.
    public static let timeoutRange = 1...60_000
    /// Valid `rise` and `fall`.
    public static let countRange = 1...100
}
