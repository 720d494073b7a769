/// The counters of one `gatepeer run` process, from its start (Prometheus counters:
/// they restart at zero with the process). Kept in the daemon's runtime report and
/// exposed by `gatepeer metrics`.
public struct DaemonCounters: Equatable, Sendable {
    /// Converge passes that applied at least one change.
    public var applies: UInt64 = 0
    /// Changes the kernel took, over all applies.
    public var changesApplied: UInt64 = 0
    /// Changes applied to repair drift (not at start or after a reload), by object kind:
    /// "link", "fdb", "address", "route", "sysctl", "filter".
    public var repairs: [String: UInt64] = [:]
    /// Converge passes that ended with a failure (a refused change, netlink failing).
    public var failures: UInt64 = 0
    /// Reloads (SIGHUP) whose config was refused, and those that were taken.
    public var configLoadErrors: UInt64 = 0
    public var reloads: UInt64 = 0
    /// Kernel events received (rtnetlink and nf_tables), and event-socket overruns
    /// (ENOBUFS: events lost, answered with a full resync).
    public var events: UInt64 = 0
    public var eventOverruns: UInt64 = 0
    /// Notifications of gatepeer's own requests, dropped without a look (OwnPorts).
    public var ownEvents: UInt64 = 0
    /// Reconcile passes by trigger: "start", "reload", "event", "overrun", "resync", "poll"
    /// (a pass that found the writer lock taken is not one).
    public var passes: [String: UInt64] = [:]
    /// Learned FDB and neighbour entries deleted because their VPG gate peer went down,
    /// counted in entries, not flushes: one peer down that deleted one FDB entry and two
    /// neighbours adds 3 (exported as gatepeer_peer_flushed_entries_total).
    public var peerFlushes: UInt64 = 0
    /// Unix time in seconds of the last converge that left nothing to do; nil before the first.
    public var lastConverged: Double?

    public init() {}
}
