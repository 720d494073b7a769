import Dispatch
import GatePeerCore
import GatePeerKernel
import Glibc

/// Publishes what the daemon knows beyond the kernel: runtime.json (RuntimeReport, read
/// by `status` and `metrics`) and the metrics textfile (the text `gatepeer metrics`
/// prints) for node_exporter. Written at start, after DaemonContext.runtimeChanged() at
/// most once a second (a burst of changes is one write), and every `refresh` seconds so
/// the textfile's link and filter counters keep moving while nothing else changes.
final class RuntimeReportService: DaemonService, @unchecked Sendable {
    private let context: DaemonContext
    /// Seconds between two writes at most (a burst of changes is coalesced into one).
    static let coalesce = 1.0
    /// Seconds between refreshes while nothing changes: node_exporter's usual scrape
    /// interval is 15 to 60 s; counters older than a minute would hide traffic.
    static let refresh = 30
    private let startTime = Clock.now()
    private var lastWrite = -Double.infinity
    private var pending = false
    private var timer: DispatchSourceTimer?
    /// Write failures, logged once while they stand.
    private var problems = StandingProblems()

    init(_ context: DaemonContext) {
        self.context = context
    }

    func start() {
        context.runtimePublisher = self
        let t = DispatchSource.makeTimerSource(queue: context.queue)
        t.schedule(deadline: .now(), repeating: .seconds(RuntimeReportService.refresh))
        t.setEventHandler { [unowned self] in self.changed() }
        t.resume()
        timer = t
    }

    /// A reload may name another textfile: it is written at once.
    func reload() { changed() }

    /// The textfile is written once more without daemon counters or peer liveness
    /// (gatepeer_daemon_running 0), so a scrape after a stop does not show a daemon that
    /// is gone; runtime.json stays, stale once this process has exited.
    func stop() {
        timer?.cancel()
        timer = nil
        publish(running: false)
    }

    /// Schedules a write: now when the last one is over a second old, else a second after it.
    func changed() {
        guard !pending else { return }
        pending = true
        let wait = max(0, lastWrite + RuntimeReportService.coalesce - Clock.monotonic())
        context.queue.asyncAfter(deadline: .now() + wait) { [weak self] in self?.publish(running: true) }
    }

    private func publish(running: Bool) {
        pending = false
        lastWrite = Clock.monotonic()
        var found: [String] = []
        defer { problems.update(found) { log(.warning, $0, ["object": "metrics"]) } }
        let report = RuntimeReport(pid: getpid(), startTime: startTime, written: Clock.now(), counters: context.counters, peers: context.peers)
        if running {
            do {
                try context.store.saveRuntimeReport(report)
            } catch {
                found.append("runtime report not written: \(error)")
            }
        }
        guard let path = context.config.metricsTextfile.target(hostNamespace: context.store.namespace.name == "host",
                                                                    directoryExists: { RuntimeReportService.isDirectory($0) }) else { return }
        do {
            let text = try MetricsCommand.text(context.kernel, context.store, context.config, runtime: running ? report : nil, learned: context.learned)
            if let e = Files.replace(path, with: Array(text.utf8), mode: 0o644, sync: false) { found.append("metrics textfile not written: \(e)") }
        } catch {
            found.append("metrics textfile not written: reading the kernel failed: \(error)")
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}
