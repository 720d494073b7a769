import Dispatch
import GatePeerCore
import GatePeerKernel
import Glibc

/// Event-driven convergence: the kernel's rtnetlink and nf_tables notifications wake
/// the reconcile, so drift is repaired within milliseconds instead of at the next resync.
///
/// - The sockets (KernelEventSocket) are opened in `start`, before the first reconcile's
///   dump, so no change after that dump can go unseen.
/// - EventScope drops what does not concern the config (learned FDB entries, ARP, other
///   devices and tables) without waking anything.
/// - Bursts are debounced: the reconcile runs once `quiet` passes without a relevant
///   event, and at the latest `maxDelay` after the first one (an `ip -batch` of a hundred
///   deletions is one reconcile, a steady trickle cannot postpone it forever).
/// - An overrun (ENOBUFS: the kernel dropped events) is answered with a full reconcile
///   as soon as the socket's backlog is read (see `overran`) and counted
///   (DaemonCounters.eventOverruns); it is never taken as "nothing happened".
/// - Our own applies cause events too. Those of our own requests are dropped by port ID
///   (KernelEventSocket, OwnPorts); the kernel's consequences of them (a route flushed
///   with an address) and our /proc/sys writes carry port 0 and wake one pass, which
///   re-plans against a kernel that already holds the config and applies nothing, so
///   there is no loop (EventRepairTests counts the applies and passes while idle).
/// - While a pass loads table inet gatepeer, nf_tables events are not listened to (a
///   100,000-rule load is more notifications than any buffer holds); one more pass after
///   it reads whatever changed meanwhile.
/// - accept_ra is the one owned setting without an event (netconf does not carry it): it
///   is read every `pollInterval` (a /proc read per link) and a pass runs when a link's
///   value leaves 0 or changes while not 0, not at every poll while a blocker keeps the
///   pass from setting it.
/// - A flood is read 64 datagrams at a time (KernelEventSocket.maxDatagrams), so probes,
///   signals and the watchdog keep their turns.
final class EventService: DaemonService, @unchecked Sendable {
    private let context: DaemonContext
    private let reconcile: ReconcileService
    private var socket: KernelEventSocket?
    private var sources: [DispatchSourceRead] = []
    private var scope: EventScope
    private var debounce: DispatchSourceTimer?
    /// When the first relevant event of the pending burst arrived; nil: none pending.
    private var firstPending: DispatchTime?
    /// The object kinds of the pending burst, for the debug line.
    private var pendingKinds: Set<String> = []
    private var pendingCount = 0
    /// Sockets that overran, with when (or when their last pass ran). Their full pass
    /// waits until the socket is read empty: the kernel drops every broadcast to a
    /// congested socket, without a second ENOBUFS, until its queue is empty
    /// (netlink_broadcast_deliver, netlink_rcv_wake), so a pass run before that could
    /// miss a change made while the backlog was read. A flood that keeps the queue full
    /// gets a pass every `overrunWait` and one more when it ends.
    private var overran: [Int32: DispatchTime] = [:]
    static let overrunWait = DispatchTimeInterval.seconds(1)
    private var poll: DispatchSourceTimer?
    /// accept_ra of each link at the last poll (nil: no IPv6 on it, or not read yet).
    private var acceptRA: [String: String] = [:]
    /// How often accept_ra is read.
    static let pollInterval = DispatchTimeInterval.seconds(1)

    /// Quiet time after the last relevant event before the reconcile runs.
    static let quiet = DispatchTimeInterval.milliseconds(5)
    /// The longest a relevant event waits for its reconcile while events keep coming.
    static let maxDelay = DispatchTimeInterval.milliseconds(20)

    init(_ context: DaemonContext, reconcile: ReconcileService) {
        self.context = context
        self.reconcile = reconcile
        scope = EventScope(config: context.config, names: [:])
    }

    func start() {
        let s: KernelEventSocket
        do {
            s = try KernelEventSocket()
            scope.setNames(try context.kernel.linkNames())
        } catch {
            // Without events drift would wait for the resync: a daemon that cannot see
            // the kernel change says so and stops rather than repair minutes late.
            log(.error, "cannot open the kernel event sockets: \(error)", ["object": "events"])
            // Joining NFNLGRP_NFTABLES needs CAP_NET_ADMIN over the namespace: the same
            // hint as the reconcile's first EPERM.
            if (error as? KernelError)?.errno == EPERM { Console.error(NetAdmin.hint("run")) }
            exit(Exit.runtime.rawValue)
        }
        socket = s
        reconcile.tableLoad = { [unowned self] loading in self.tableLoad(loading) }
        let t = DispatchSource.makeTimerSource(queue: context.queue)
        t.setEventHandler { [unowned self] in self.fire() }
        t.schedule(deadline: .distantFuture)
        t.resume()
        debounce = t
        let p = DispatchSource.makeTimerSource(queue: context.queue)
        p.setEventHandler { [unowned self] in self.pollAcceptRA() }
        p.schedule(deadline: .now() + Self.pollInterval, repeating: Self.pollInterval, leeway: .milliseconds(100))
        p.resume()
        poll = p
        for fd in s.descriptors {
            let src = DispatchSource.makeReadSource(fileDescriptor: fd, queue: context.queue)
            src.setEventHandler { [unowned self] in self.readable(fd) }
            src.resume()
            sources.append(src)
        }
    }

    func reload() { scope.configure(context.config) }

    func stop() {
        for s in sources { s.cancel() }
        sources = []
        debounce?.cancel()
        debounce = nil
        poll?.cancel()
        poll = nil
        socket = nil
    }

    private func readable(_ fd: Int32) {
        guard let socket else { return }
        let batch = socket.drain(fd)
        context.counters.events += UInt64(batch.events.count)
        context.counters.ownEvents += UInt64(batch.own)
        if batch.more {
            // Read the rest after whatever else is queued (level-triggered: a read source
            // fires again too; a second drain that finds nothing costs one recv).
            context.queue.async { [weak self] in self?.readable(fd) }
        }
        if batch.overrun && overran[fd] == nil {
            context.counters.eventOverruns += 1
            log(.warning, "kernel events lost (\(String(cString: strerror(batch.overrunErrno)))); full resync once the backlog is read", ["object": "events"])
            clearPending()
            overran[fd] = .now()
        }
        if let since = overran[fd] {
            // What the backlog says is superseded by the full pass; it only has to be read.
            if !batch.more {
                overran[fd] = nil
                fullPass()
            } else if DispatchTime.now() > since + Self.overrunWait {
                // A flood that does not end: a pass now, and another once it is read.
                overran[fd] = .now()
                fullPass()
            }
            return
        }
        var relevant = false
        for e in batch.events where scope.take(e) {
            relevant = true
            pendingKinds.insert(e.object)
            pendingCount += 1
        }
        if relevant { wake() }
    }

    /// Schedules the reconcile `quiet` from now, but no later than `maxDelay` after the
    /// burst's first event.
    private func wake() {
        let now = DispatchTime.now()
        let first = firstPending ?? now
        firstPending = first
        debounce?.schedule(deadline: min(now + Self.quiet, first + Self.maxDelay))
    }

    private func fire() {
        guard firstPending != nil else { return }
        // None pending: the pass after our own table load, which has nothing to sum up.
        if pendingCount > 0 {
            log(.debug, "kernel events", ["count": "\(pendingCount)", "object": pendingKinds.sorted().joined(separator: ",")])
        }
        clearPending()
        reconcile.reconcile(.event)
    }

    private func clearPending() {
        firstPending = nil
        pendingKinds = []
        pendingCount = 0
        debounce?.schedule(deadline: .distantFuture)
    }

    /// Reads net.ipv6.conf.<link>.accept_ra of every configured link; a value that left 0
    /// (or changed while not 0) since the last read wakes a pass.
    private func pollAcceptRA() {
        var now: [String: String] = [:]
        var changed = false
        for l in context.config.links {
            guard let v = Sysctl.read(.acceptRA(l.name)) else { continue }
            now[l.name] = v
            if v != "0" && acceptRA[l.name] != v { changed = true }
        }
        acceptRA = now
        if changed { reconcile.reconcile(.poll) }
    }

    /// Leaves NFNLGRP_NFTABLES while a pass loads our table (true) and joins it again
    /// after (false), then wakes one more pass: what changed in between is read, not heard.
    /// A group that cannot be joined again leaves the daemon deaf to the filter: it says so
    /// and exits, for systemd to restart it.
    private func tableLoad(_ loading: Bool) {
        guard let socket else { return }
        do {
            try socket.listenToNftables(!loading)
        } catch {
            log(.error, "cannot \(loading ? "leave" : "join") the nf_tables event group: \(error)", ["object": "events"])
            if !loading { exit(Exit.runtime.rawValue) }
            return
        }
        if !loading { wake() }
    }

    /// Events were lost: which objects changed is unknown, so the device table is read
    /// again and everything is reconciled.
    private func fullPass() {
        if let names = try? context.kernel.linkNames() { scope.setNames(names) }
        reconcile.reconcile(.overrun)
    }
}
