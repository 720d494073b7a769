import Dispatch
import GatePeerCore
import GatePeerKernel
import Glibc

/// The daemon's side of systemd's notification protocol (sd_notify(3), without
/// libsystemd: one datagram per message to the socket in $NOTIFY_SOCKET), for the
/// shipped unit's Type=notify and WatchdogSec=:
/// - READY=1 after the first reconcile pass, converged or not (STATUS= says which), so
///   `systemctl start` returns once the kernel holds the config or the problem is known;
/// - STATUS= the line `systemctl status` shows (ServiceStatusLine), sent when its text
///   changes, looked at once a second;
/// - WATCHDOG=1 every half $WATCHDOG_USEC from a timer on the state queue: a queue
///   wedged in a kernel call or a deadlock stops the pings and systemd restarts us;
/// - RELOADING=1 with MONOTONIC_USEC= when a SIGHUP is taken, READY=1 when it is done
///   (applied or refused);
/// - STOPPING=1 on SIGTERM/SIGINT.
/// Without $NOTIFY_SOCKET (started by hand, by a test) it sends nothing and runs no timer.
final class SystemdNotifier: DaemonService, @unchecked Sendable {
    private let context: DaemonContext
    /// $NOTIFY_SOCKET: a path or "@abstract" name; nil when unset or empty.
    private let socket: String?
    /// Seconds between two WATCHDOG=1: half of $WATCHDOG_USEC, nil without a watchdog
    /// (unset, unparsable, or $WATCHDOG_PID names another process).
    let watchdogInterval: Double?
    private var timers: [DispatchSourceTimer] = []
    private var ready = false
    private var sentStatus: String?
    /// Sum of counters.repairs when last looked at, and when (Clock.monotonic) it last grew.
    private var repairsSeen: UInt64 = 0
    private var lastRepair: Double?
    /// Why the last reload was refused (shown until a reload is taken).
    private var reloadRefused: String?
    /// A notify socket that refuses datagrams is logged once, not at every ping.
    private var sendProblem = StandingProblems()

    /// Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID (sd_watchdog_enabled(3)).
    init(_ context: DaemonContext) {
        self.context = context
        let path = Environment.get("NOTIFY_SOCKET") ?? ""
        socket = path.isEmpty ? nil : path
        let forUs = Environment.get("WATCHDOG_PID").map { $0 == String(getpid()) } ?? true
        if socket != nil, forUs, let text = Environment.get("WATCHDOG_USEC"), let usec = UInt64(text), usec > 0 {
            watchdogInterval = Double(usec) / 2e6
        } else {
            watchdogInterval = nil
        }
    }

    func start() {
        guard socket != nil else { return }
        if let watchdogInterval {
            timers.append(repeating(every: watchdogInterval) { [unowned self] in self.send("WATCHDOG=1") })
            log(.info, "systemd watchdog on", ["object": "systemd", "interval": "\(watchdogInterval)s"])
        }
        timers.append(repeating(every: 1) { [unowned self] in self.refresh() })
    }

    /// The config was just taken by a reload: READY=1 follows in `reloaded`.
    func reload() {}

    func stop() {
        for t in timers { t.cancel() }
        timers = []
        send("STOPPING=1\nSTATUS=stopping; the kernel keeps what was applied")
    }

    /// A SIGHUP is being handled (before the file is read).
    func reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=\(UInt64(Clock.monotonic() * 1e6))")
    }

    /// The SIGHUP is done: `refused` says why the file was not taken (the running config
    /// stays), nil when it was taken and applied. READY=1 only once the first reconcile
    /// has sent it: a SIGHUP during start must not make systemd think the start is done.
    func reloaded(refused: String?) {
        reloadRefused = refused
        let status = statusText()
        send((ready ? "READY=1\n" : "") + "STATUS=" + status)
        sentStatus = status
    }

    /// After each reconcile pass (DaemonContext.afterReconcile): READY=1 after the first,
    /// and the status line when it changed.
    func reconciled() {
        guard socket != nil else { return }
        if !ready {
            ready = true
            let status = statusText()
            send("READY=1\nSTATUS=" + status)
            sentStatus = status
        } else {
            refresh()
        }
    }

    /// Sends STATUS= when the line's text differs from the last one sent.
    private func refresh() {
        let repairs = context.counters.repairs.values.reduce(0, +)
        if repairs > repairsSeen {
            repairsSeen = repairs
            lastRepair = Clock.monotonic()
        }
        guard ready else { return }
        let status = statusText()
        guard status != sentStatus else { return }
        send("STATUS=" + status)
        sentStatus = status
    }

    private func statusText() -> String {
        let config = context.config
        return ServiceStatusLine(
            links: config.links.count, configuredPeers: config.links.reduce(0) { $0 + $1.peers.count },
            peers: context.peers, filter: config.filter != nil, problems: context.reconcileProblems,
            secondsSinceRepair: lastRepair.map { Clock.monotonic() - $0 }, reloadRefused: reloadRefused
        ).text
    }

    private func repeating(every seconds: Double, _ body: @escaping () -> Void) -> DispatchSourceTimer {
        let t = DispatchSource.makeTimerSource(queue: context.queue)
        let interval = DispatchTimeInterval.milliseconds(max(1, Int(seconds * 1000)))
        t.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(100))
        t.setEventHandler(handler: body)
        t.resume()
        return t
    }

    /// One datagram; a failure is a warning (once while it stands): the daemon keeps
    /// serving without its service manager.
    private func send(_ message: String) {
        guard let socket else { return }
        do {
            try UnixDatagram.send(Array(message.utf8), to: socket)
            sendProblem.update([], ["object": "systemd"])
        } catch {
            sendProblem.update(["cannot notify systemd: \(error)"], ["object": "systemd"])
        }
    }
}
