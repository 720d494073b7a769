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

    /// Throws when another `gatepeer run` manages this network namespace (naming its pid),
    /// or the kernel cannot be reached (see DaemonContext).
    init(configPath: String, config: GatePeerConfig, resync: Int) throws {
        context = try DaemonContext(configPath: configPath, config: config)
        self.resync = resync
    }

    /// Starts every service and serves until SIGTERM or SIGINT (exit 0: the kernel keeps
    /// what was applied).
    func run() -> Never {
        let reconcile = ReconcileService(context, resync: resync)
        services = [
            SignalService(queue: context.queue, onReload: { [unowned self] in self.reload() }, onStop: { [unowned self] in self.stop($0) }),
            EventService(context, reconcile: reconcile),
            reconcile,
            ResolveService(context),
            ForwarderService(context),
        ]
        log("running with \(Echo.path(context.configPath)): \(context.config.links.count) link(s), repairs on kernel events, resync every \(resync)s")
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
        let path = context.configPath
        let data: [UInt8]
        switch Files.read(path, limit: Files.configLimit) {
        case .success(let d): data = d
        case .failure(let e):
            log("reload: cannot read \(Echo.path(e.path)): \(e.reason); keeping the running config")
            return
        }
        switch ConfigDecoder.decode(bytes: data) {
        case .success(let c):
            context.config = c
            log("reloaded \(Echo.path(path))")
            for s in services { s.reload() }
        case .failure(let e):
            log("reload: \(Echo.path(path)) has \(e.count) problem(s); keeping the running config")
            for line in e.report(indent: "  ") { log(line) }
        }
    }

    private func stop(_ sig: Int32) {
        log("stopping (signal \(sig)); the kernel keeps what was applied")
        for s in services.reversed() { s.stop() }
        exit(0)
    }
}
