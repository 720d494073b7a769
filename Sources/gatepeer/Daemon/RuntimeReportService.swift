import Dispatch
import GatePeerCore
import GatePeerKernel
import Glibc

/// Publishes what the daemon knows beyond the kernel: runtime.json (RuntimeReport, read
/// by `status` and `metrics`) and the metrics textfile (the text `gatepeer metrics`
/// prints) for node_exporter, each on its own cadence:
/// - runtime.json (a small file, no kernel read): after DaemonContext.runtimeChanged() at
///   most once a second (and at once, alone, when it is urgent: a peer's state changed,
///   which `gatepeer health` and so keepalived act on), and at least every RuntimeReport.heartbeat seconds, so a reader
///   can tell a daemon that stopped writing (RuntimeReport.staleAfter);
/// - the textfile (a kernel read): every `textfileRefresh` seconds, and at once (still at
///   most once a second) when a peer's state or the reconcile's outcome changed. It does
///   not observe and plan the whole config: sync, pending and blockers are the last
///   reconcile's (DaemonContext.reconcileProblems), the filter's rendering is planned
///   again only when the kernel's table fingerprint changed; only links, counters and
///   map element counters are read each time.
final class RuntimeReportService: DaemonService, @unchecked Sendable {
    private let context: DaemonContext
    /// Seconds between two writes at most (a burst of changes is coalesced into one).
    static let coalesce = 1.0
    /// Seconds between textfile refreshes while nothing changes: node_exporter's usual
    /// scrape interval is 15 to 60 s; a slower file would show old counters.
    static let textfileRefresh = 15.0
    /// The process's start as the kernel holds it (/proc/PID/stat), which readers compare
    /// to tell a reused pid; taken at exec, not here, so a slow config load does not
    /// make the report look like another process's.
    private let startTime = ProcessStart.unixSeconds(pid: getpid()) ?? Clock.now()
    private var lastWrite = -Double.infinity
    private var pending = false
    /// An urgent runtime.json write is queued (changed(urgent:)).
    private var urgentPending = false
    private var timer: DispatchSourceTimer?
    /// When the textfile was last written (Clock.monotonic) and what it showed of the
    /// peers' states and the reconcile's outcome: a change is written at once.
    private var textfileWritten = -Double.infinity
    private var textfileBasis = ""
    /// The filter's rendering for the running config, with the kernel table's fingerprint
    /// it was planned against (planned again when that changes, or on reload).
    private var rendered: (fingerprint: String?, ruleset: NftRuleset?)?
    /// The filter status last read, with the named counters it was read with. Every
    /// packet a destination map element counts then goes through out_allow or out_deny
    /// (NftRenderer): while no named counter moved, the map element counters have not
    /// either, and the table listing they need (libnftables, the textfile's dearest read
    /// with a large filter) is skipped.
    private var lastFilter: (counters: [String: PacketCount], fingerprint: String, status: FilterStatus?)?
    /// Write failures, logged once while they stand.
    private var problems = StandingProblems()

    init(_ context: DaemonContext) {
        self.context = context
    }

    func start() {
        context.runtimePublisher = self
        let t = DispatchSource.makeTimerSource(queue: context.queue)
        t.schedule(deadline: .now(), repeating: .seconds(Int(RuntimeReport.heartbeat)))
        t.setEventHandler { [unowned self] in self.changed() }
        t.resume()
        timer = t
    }

    /// A reload may name another textfile and render another filter: written at once.
    func reload() {
        rendered = nil
        lastFilter = nil
        textfileWritten = -Double.infinity
        changed()
    }

    /// The textfile is written once more without daemon counters or peer liveness
    /// (gatepeer_daemon_running 0), so a scrape after a stop does not show a daemon that
    /// is gone; runtime.json stays, stale once this process has exited.
    func stop() {
        timer?.cancel()
        timer = nil
        publish(running: false)
    }

    /// Schedules a write: now when the last one is over a second old, else a second after
    /// it. `urgent` also writes runtime.json alone at once (no kernel read: the textfile
    /// keeps its cadence), once per queue turn however many peers changed in it.
    func changed(urgent: Bool = false) {
        if urgent, !urgentPending {
            urgentPending = true
            context.queue.async { [weak self] in
                guard let self else { return }
                urgentPending = false
                // A failure is reported by the coalesced publish scheduled below.
                try? context.store.saveRuntimeReport(currentReport())
            }
        }
        guard !pending else { return }
        pending = true
        let wait = max(0, lastWrite + RuntimeReportService.coalesce - Clock.monotonic())
        context.queue.asyncAfter(deadline: .now() + wait) { [weak self] in self?.publish(running: true) }
    }

    /// The report as the daemon knows it now.
    private func currentReport() -> RuntimeReport {
        RuntimeReport(pid: getpid(), startTime: startTime, written: Clock.now(), counters: context.counters,
                      peers: context.peers, livenessProblems: context.livenessProblems)
    }

    private func publish(running: Bool) {
        pending = false
        let now = Clock.monotonic()
        lastWrite = now
        var found: [String] = []
        defer { problems.update(found) { log(.warning, $0, ["object": "metrics"]) } }
        let report = currentReport()
        if running {
            do {
                try context.store.saveRuntimeReport(report)
            } catch {
                found.append("runtime report not written: \(error)")
            }
        }
        guard let path = context.config.metricsTextfile.target(hostNamespace: context.store.namespace.name == "host",
                                                                    directoryExists: { RuntimeReportService.isDirectory($0) }) else { return }
        let basis = RuntimeReportService.basis(context.peers, context.reconcileProblems)
        guard !running || basis != textfileBasis || now - textfileWritten >= RuntimeReportService.textfileRefresh else { return }
        textfileWritten = now
        textfileBasis = basis
        do {
            var status = try kernelStatus()
            status.attach(running ? report : nil)
            let text = MetricsCommand.render(status, context.store, context.config, learned: context.learned)
            if let e = Files.replace(path, with: Array(text.utf8), mode: 0o644, sync: false) { found.append("metrics textfile not written: \(e)") }
        } catch {
            found.append("metrics textfile not written: reading the kernel failed: \(error)")
        }
    }

    /// What the textfile shows at once when it changes: each peer's state, and the
    /// reconcile's standing problems.
    static func basis(_ peers: [PeerLiveness], _ reconcileProblems: [String]?) -> String {
        peers.map { "\($0.link) \($0.outerIpAddress) \($0.state.rawValue)" }.joined(separator: ",")
            + "|" + (reconcileProblems?.joined(separator: "\n") ?? "none yet")
    }

    /// The kernel's part of the textfile: before the first reconcile pass a full status
    /// (observe and plan); after it, the links and the filter's counters read now, with
    /// the sync state the last reconcile left.
    private func kernelStatus() throws -> StatusReport {
        let kernel = context.kernel, store = context.store, config = context.config
        guard let problems = context.reconcileProblems else {
            return try StatusCommand.observe(kernel, store, config)
        }
        let observed = try kernel.observe(sysctls: [])
        var status = StatusReport(config: config, observed: observed, reconcileProblems: problems)
        let fingerprint = observed.filter?.fingerprint
        if rendered == nil || rendered?.fingerprint != fingerprint {
            let plan = Planner.plan(config: config, observed: observed, dynamic: context.dynamicElements(observed))
            rendered = (fingerprint, plan.ruleset)
        }
        let counters = observed.filter?.counters ?? [:]
        if let last = lastFilter, let fingerprint, last.fingerprint == fingerprint, last.counters == counters {
            status.filter = last.status
        } else {
            status.filter = StatusCommand.filterStatus(kernel, config, observed, ruleset: rendered?.ruleset, pending: [])
            lastFilter = fingerprint.map { (counters, $0, status.filter) }
        }
        return status
    }

    private static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}
