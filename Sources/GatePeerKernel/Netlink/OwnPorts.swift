/// The netlink port IDs of this process's own request sockets, so the event socket can
/// tell the notifications of our own changes from anyone else's.
///
/// A notification's nlmsg_pid is the port ID of the socket whose request caused it
/// (rtnetlink: rtnl_notify with the requester's NETLINK_CB portid; nf_tables:
/// nfnetlink_send with the transaction's portid); 0 for changes the kernel makes by itself
/// (a route flushed with its address, a learned FDB entry) and for /proc/sys writes.
/// Port IDs are unique while we live: the kernel's autobind gives a socket the process's
/// PID when that is free, else a number from one global counter that runs down from a
/// random start in [INT32_MIN, -4097] (netlink_autobind), so another process gets one of
/// ours only after that counter wraps. Only the last `capacity` are kept: notifications
/// are read within milliseconds of their request, so older sockets no longer matter,
/// and a daemon that opens a socket per element load does not grow for months.
enum OwnPorts {
    static let capacity = 256
    private static let lock = Lock()
    nonisolated(unsafe) private static var ring = [UInt32](repeating: 0, count: capacity)
    nonisolated(unsafe) private static var next = 0

    /// Records a port ID of ours (NetlinkSocket's init, after bind).
    static func insert(_ portID: UInt32) {
        lock.withLock {
            ring[next] = portID
            next = (next + 1) % capacity
        }
    }

    /// True when `portID` is one of ours; 0 (the kernel's own) never is.
    static func contains(_ portID: UInt32) -> Bool {
        portID != 0 && lock.withLock { ring.contains(portID) }
    }
}
