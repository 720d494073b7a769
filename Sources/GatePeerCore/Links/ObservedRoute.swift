/// One route of an RTM_NEWROUTE dump (rtmsg and RTA_* attributes).
public struct ObservedRoute: Equatable, Sendable {
    /// RT_TABLE_MAIN, where gatepeer's routes go.
    public static let mainTable: UInt32 = 254
    /// RTA_TABLE (rtm_table when below 256).
    public var table: UInt32
    /// rtm_protocol: who installed it; 201 for gatepeer (Ownership.routeProtocol).
    public var protocolNumber: UInt8
    /// RTA_DST with rtm_dst_len (0.0.0.0/0 or ::/0 when absent).
    public var destination: IPPrefix
    /// RTA_GATEWAY: the next hop; nil for a directly connected route.
    public var gateway: IPAddress?
    /// RTA_OIF: ifindex of the outgoing device.
    public var outputIndex: Int32?
    /// rtm_type: RTN_UNICAST 1, RTN_LOCAL 2, RTN_BLACKHOLE 6, ...
    public var type: UInt8
    /// RTA_PRIORITY (the metric); nil when the kernel sent none (IPv4 metric 0).
    public var priority: UInt32?
    /// rtm_scope: RT_SCOPE_UNIVERSE 0, RT_SCOPE_LINK 253, RT_SCOPE_HOST 254.
    public var scope: UInt8

    /// A route as the kernel layer decodes it (defaults: main table, unicast, universe).
    public init(table: UInt32 = ObservedRoute.mainTable, protocolNumber: UInt8, destination: IPPrefix,
                gateway: IPAddress?, outputIndex: Int32?, type: UInt8 = 1, priority: UInt32? = nil, scope: UInt8 = 0) {
        self.table = table
        self.protocolNumber = protocolNumber
        self.destination = destination
        self.gateway = gateway
        self.outputIndex = outputIndex
        self.type = type
        self.priority = priority
        self.scope = scope
    }

    /// The metric our own requests get (none for IPv4, the kernel's 1024 for IPv6), which
    /// is what NLM_F_REPLACE replaces.
    public var hasDefaultMetric: Bool {
        destination.family == .v4 ? (priority ?? 0) == 0 : (priority ?? 1024) == 1024
    }

    /// True when this route would carry traffic for its destination next to one of ours:
    /// its metric is at most the one our requests get (IPv4 0, IPv6 1024); a route at a
    /// higher metric is a backup the kernel uses only when ours is gone.
    public func beats(ourMetricFor family: IPAddress.Family) -> Bool {
        (priority ?? (family == .v4 ? 0 : 1024)) <= (family == .v4 ? 0 : 1024)
    }

    /// Protocol 201 alone does not make a route ours: see `ObservedState.isOwned(_:)`,
    /// which also wants it in the main table and out through one of our own devices.
    public var hasOurProtocol: Bool { protocolNumber == Ownership.routeProtocol }

    /// Ours: protocol 201, main table, out through one of `devices` (our links' indexes).
    public func isOwned(through devices: Set<Int32>) -> Bool {
        hasOurProtocol && table == ObservedRoute.mainTable && outputIndex.map { devices.contains($0) } == true
    }
}
