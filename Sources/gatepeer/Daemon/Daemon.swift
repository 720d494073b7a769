import Dispatch
import GatePeerCore
import GatePeerKernel
import Glibc

/// `gatepeer run`: converge at start, then keep converging. The daemon is a set of
/// services (DaemonService) over one shared context: the reconcile loop, name
/// resolution for exact domain rules, the DNS forwarder, and signal handling. SIGHUP
/// re-reads the config; a valid one replaces the running config and every service
/// reloads, an invalid one is logged and the running config stays.
final class Daemon: @unchecked Sendable {
    private let context: DaemonContext
    private let resync: Int
    private var services: [DaemonService] = []
    /// systemd's READY/STATUS/WATCHDOG/RELOADING/STOPPING (nothing without $NOTIFY_SOCKET).
    private let notifier: SystemdNotifier

    /// Throws when another `gatepeer run` manages this network namespace (naming its pid),
    /// or the kernel cannot be reached (see DaemonContext).
    init(configPath: String, config: GatePeerConfig, resync: Int) throws {
        context = try DaemonContext(configPath: configPath, config: config)
        self.resync = resync
        notifier = SystemdNotifier(context)
        context.afterReconcile = { [notifier] in notifier.reconciled() }
    }

    /// Starts every service and serves until SIGTERM or SIGINT (exit 0: the kernel keeps
    /// what was applied).
    func run() -> Never {
        let reconcile = ReconcileService(context, resync: resync)
        let liveness = LivenessService(context)
        // Every pass tells liveness which links this node is the HA standby for.
        reconcile.observed = { [unowned liveness] in liveness.observed($0) }
        services = [
            SignalService(queue: context.queue, onReload: { [unowned self] in self.reload(); Memory.returnFreed() }, onStop: { [unowned self] in self.stop($0) }),
            EventService(context, reconcile: reconcile),
            reconcile,
            ResolveService(context),
            ForwarderService(context),
            liveness,
            RuntimeReportService(context),
            // Last: stopped first, so STOPPING=1 goes out before the others wind down.
            notifier,
        ]
        log(.info, "running", ["config": context.configPath, "links": "\(context.config.links.count)", "repair": "on kernel events", "resync": "\(resync)s"])
        // Before dispatchMain: a SIGHUP or SIGTERM from now on is handled, not the default
        // action (which would end the process).
        context.queue.sync { [self] in
            for s in services { s.start() }
        }
        dispatchMain()
    }

    /// SIGHUP: reads and validates the config file; a valid one becomes the running config
    /// and every service reloads (the reconcile applies it at once); otherwise the running
    /// config stays and the problems are logged.
    private func reload() {
        notifier.reloading()
        let refused = takeConfig()
        // gatepeer_config_reloads_total / gatepeer_config_load_errors_total.
        if refused == nil { context.counters.reloads += 1 } else { context.counters.configLoadErrors += 1 }
        context.runtimeChanged()
        notifier.reloaded(refused: refused)
    }

    /// Reads and decodes the config file; a valid one becomes the running config and the
    /// services reload. Returns why it was refused (the running config stays), nil when
    /// taken.
    private func takeConfig() -> String? {
        let path = context.configPath
        let data: [UInt8]
        switch Files.read(path, limit: Files.configLimit) {
        case .success(let d): data = d
        case .failure(let e):
            log(.error, "reload refused: cannot read the config; keeping the running config", ["config": e.path, "reason": e.reason])
            return "cannot read \(Echo.path(e.path)): \(e.reason)"
        }
        switch ConfigDecoder.decode(bytes: data) {
        case .success(let c):
            context.config = c
            log(.info, "reloaded \(Echo.path(path))", ["config": path])
            for s in services { s.reload() }
            return nil
        case .failure(let e):
            log(.error, "reload refused: \(e.count) problem(s); keeping the running config", ["config": path])
            for line in e.report(indent: "  ") { log(.error, line, ["config": path]) }
            return "\(e.count) problem(s) in \(Echo.path(path))"
        }
    }

    private func stop(_ sig: Int32) {
        log(.info, "stopping; the kernel keeps what was applied", ["signal": "\(sig)"])
        for s in services.reversed() { s.stop() }
        exit(0)
    }
}
