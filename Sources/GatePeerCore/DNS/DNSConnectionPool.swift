/// Which TCP connections the DNS forwarder keeps when devices want more than it serves
/// (RFC 7766 6.2.2 and 6.2.3): at most `perSource` per client address and `capacity` in
/// all; a connection past its `lifetime` or idle for `idle` seconds is closed. A new
/// connection is admitted by closing an idle one rather than refused, so one device that
/// holds many connections, idle or slowly active, cannot shut the others out.
///
/// Bookkeeping only (no sockets); times are CLOCK_MONOTONIC seconds from the caller. Not
/// thread-safe: the forwarder holds a lock around it.
public struct DNSConnectionPool: Sendable {
    /// One admitted connection. `busy`: a query is being read, asked upstream or answered
    /// (such a connection is never closed for a newcomer; `messageSeconds` bounds it).
    public struct Connection: Equatable, Sendable {
        /// The client's address.
        public let source: IPAddress
        /// When it was admitted, CLOCK_MONOTONIC seconds.
        public let opened: Double
        /// When the connection was admitted or a query last started or was answered (`mark`), CLOCK_MONOTONIC seconds.
        public var lastActive: Double
        /// A query is in progress on it.
        public var busy: Bool
    }

    /// Connections kept in all (at least 1).
    public let capacity: Int
    /// Connections kept per client address (1...capacity).
    public let perSource: Int
    /// Seconds without activity after which a connection is closed.
    public let idle: Double
    /// Seconds after which a connection is closed however active it is.
    public let lifetime: Double
    /// The admitted connections by id.
    public private(set) var connections: [Int: Connection] = [:]
    private var nextID = 0

    /// A pool; `capacity` and `perSource` are raised to 1 and `perSource` capped at `capacity`.
    public init(capacity: Int, perSource: Int, idle: Double, lifetime: Double) {
        self.capacity = max(capacity, 1)
        self.perSource = max(min(perSource, capacity), 1)
        self.idle = idle
        self.lifetime = lifetime
    }

    /// Admits a connection from `source` at `now`: its id and the ids of connections to
    /// close for it (already out of the pool), or nil when every connection it could
    /// displace is busy (close the new one). At its own cap a source gives up its own
    /// connection idle the longest; in a full pool the source holding the most
    /// connections gives up its one idle the longest.
    public mutating func admit(_ source: IPAddress, now: Double) -> (id: Int, close: [Int])? {
        var close: [Int] = []
        let own = connections.filter { $0.value.source == source }
        if own.count >= perSource {
            guard let victim = longestIdle(own) else { return nil }
            close.append(victim)
        } else if connections.count >= capacity {
            var held: [IPAddress: Int] = [:]
            for c in connections.values { held[c.source, default: 0] += 1 }
            let idleOnes = connections.filter { !$0.value.busy }
            guard let most = idleOnes.values.map({ held[$0.source]! }).max(),
                  let victim = longestIdle(idleOnes.filter { held[$0.value.source] == most }) else { return nil }
            close.append(victim)
        }
        for id in close { connections[id] = nil }
        nextID += 1
        connections[nextID] = Connection(source: source, opened: now, lastActive: now, busy: false)
        return (nextID, close)
    }

    private func longestIdle(_ among: [Int: Connection]) -> Int? {
        among.filter { !$0.value.busy }
            .min { ($0.value.lastActive, $0.value.opened, $0.key) < ($1.value.lastActive, $1.value.opened, $1.key) }?.key
    }

    /// Marks a query started (`busy`) or answered on connection `id`; false when the
    /// connection is no longer in the pool (closed for a newcomer: stop serving it).
    @discardableResult
    public mutating func mark(_ id: Int, busy: Bool, now: Double) -> Bool {
        guard connections[id] != nil else { return false }
        connections[id]!.busy = busy
        connections[id]!.lastActive = now
        return true
    }

    /// Until when connection `id` may wait for its next query: `idle` seconds from its
    /// last answer, and never past `lifetime` from when it opened. nil: not in the pool.
    public func waitUntil(_ id: Int) -> Double? {
        guard let c = connections[id] else { return nil }
        return min(c.lastActive + idle, c.opened + lifetime)
    }

    /// Takes connection `id` out of the pool (closed by its own server).
    public mutating func remove(_ id: Int) { connections[id] = nil }
}
