/// The rise/fall judgement of one VPG gate peer from its probes, as keepalived and BFD
/// judge: up after `rise` answered probes in a row, down after `fall` lost in a row.
/// Pure (times are CLOCK_MONOTONIC nanoseconds handed in), so the daemon's liveness
/// service only sends, receives and asks it.
///
/// When is a probe lost: until the peer is up, after `timeoutMs` (slow first packets are
/// not a death); once RTTs of the up peer are known, when it is unanswered past the retransmission
/// timeout of RFC 6298 (smoothed RTT + 4 x its variation, at least 100 ms, at most
/// `timeoutMs`). While an up peer is losing probes it is probed at that pace, not at
/// `intervalMs`, as a neighbour in PROBE state is (RFC 4861 7.3.3): a dead peer is
/// judged in a few RTOs instead of `fall` intervals, which a 1 s interval and fall 3
/// would make 3 s or more.
public struct LivenessMachine: Sendable {
    public let settings: LivenessSettings
    public private(set) var state: PeerLiveness.State = .unknown
    public private(set) var answeredInRow = 0
    public private(set) var lostInRow = 0
    public private(set) var probesSent: UInt64 = 0
    public private(set) var probesLost: UInt64 = 0
    /// Round-trip time of the last answered probe, nanoseconds.
    public private(set) var lastRTT: UInt64?
    /// When the next probe is due (nanoseconds, monotonic).
    public private(set) var nextSend: UInt64
    /// Probes sent and not yet answered or lost: sequence number -> when sent.
    private var outstanding: [UInt16: UInt64] = [:]
    private var smoothed: Double?
    private var variation: Double = 0

    /// The lowest RTO: below it a scheduling hiccup of the daemon would look like a loss.
    public static let minimumTimeout: UInt64 = 100_000_000

    /// A peer not yet probed; the first probe is due at `now`.
    public init(settings: LivenessSettings, now: UInt64) {
        self.settings = settings
        nextSend = now
    }

    /// How long a probe may stay unanswered now, nanoseconds.
    public var timeout: UInt64 {
        let cap = UInt64(settings.timeoutMs) * 1_000_000
        guard let s = smoothed else { return cap }
        return min(cap, max(Self.minimumTimeout, UInt64(s + 4 * variation)))
    }

    /// True while an up peer is losing probes (probed at the RTO's pace).
    public var suspect: Bool { state == .up && lostInRow > 0 }

    /// The earliest moment something is to be done: a probe due or one to judge lost.
    public var nextDeadline: UInt64 {
        let t = timeout
        return outstanding.values.reduce(nextSend) { min($0, $1 &+ t) }
    }

    /// A probe with `sequence` left at `now`; the next is due an interval later (an RTO
    /// later while suspect).
    public mutating func sent(sequence: UInt16, at now: UInt64) {
        outstanding[sequence] = now
        probesSent += 1
        let interval = UInt64(settings.intervalMs) * 1_000_000
        nextSend = now + (suspect ? min(interval, timeout) : interval)
    }

    /// A probe due at `now` that could not be sent (no socket: the vxlan device is gone,
    /// or the send failed with ENODEV/ENXIO): counted as sent and at once as lost, so a
    /// peer that cannot be reached through the tunnel goes down after `fall` of them
    /// instead of keeping the state its last answers gave it. Returns the new state when
    /// it changed.
    public mutating func unsent(at now: UInt64) -> PeerLiveness.State? {
        probesSent += 1
        let verdict = lose()
        let interval = UInt64(settings.intervalMs) * 1_000_000
        nextSend = now + (suspect ? min(interval, timeout) : interval)
        return verdict
    }

    /// The answer to `sequence` came at `now`. Returns the new state when it changed. An
    /// answer to a probe already judged lost (or never sent) changes nothing.
    public mutating func answered(sequence: UInt16, at now: UInt64) -> PeerLiveness.State? {
        guard let at = outstanding.removeValue(forKey: sequence) else { return nil }
        let rtt = now >= at ? now - at : 0
        lastRTT = rtt
        if state == .up { estimate(rtt) }
        lostInRow = 0
        answeredInRow += 1
        return judge(answeredInRow >= settings.rise ? .up : nil)
    }

    /// Feeds the RTO estimator (RFC 6298 2.2 and 2.3: alpha 1/8, beta 1/4). Only answers
    /// an up peer gives count: the first ones wait for ARP/NDP (and IPv6 duplicate address
    /// detection on a new link), 0.5 s where the path takes 0.3 ms, and would keep the
    /// timeout long for dozens of probes.
    private mutating func estimate(_ rtt: UInt64) {
        let r = Double(rtt)
        if let s = smoothed {
            variation = 0.75 * variation + 0.25 * abs(s - r)
            smoothed = 0.875 * s + 0.125 * r
        } else {
            smoothed = r
            variation = r / 2
        }
    }

    /// Judges lost every probe unanswered for `timeout` at `now`, oldest first. Returns
    /// the new state when it changed.
    public mutating func expire(at now: UInt64) -> PeerLiveness.State? {
        let t = timeout
        let late = outstanding.filter { $0.value &+ t <= now }.sorted { $0.value < $1.value }
        guard !late.isEmpty else { return nil }
        var changed: PeerLiveness.State?
        for (seq, _) in late {
            outstanding[seq] = nil
            if let s = lose() { changed = s }
        }
        // A loss of an up peer is checked again at once, not an interval later.
        if suspect { nextSend = min(nextSend, now) }
        return changed
    }

    /// One probe lost: counted, and judged against `fall`.
    private mutating func lose() -> PeerLiveness.State? {
        probesLost += 1
        answeredInRow = 0
        lostInRow += 1
        return judge(lostInRow >= settings.fall ? .down : nil)
    }

    private mutating func judge(_ verdict: PeerLiveness.State?) -> PeerLiveness.State? {
        guard let verdict, verdict != state else { return nil }
        state = verdict
        return verdict
    }
}
