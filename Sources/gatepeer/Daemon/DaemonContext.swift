import Dispatch
import GatePeerCore
import GatePeerKernel
import Glibc

/// What the services of `gatepeer run` share: the running config, the kernel, the state
/// store and the addresses learned for domain names. Used only on `queue`, the one serial
/// queue every service's work and every kernel call of the daemon runs on, so nothing
/// races.
final class DaemonContext: @unchecked Sendable {
    let configPath: String
    /// The running config: the one read at start or by the last SIGHUP that validated.
    var config: GatePeerConfig
    let queue = DispatchQueue(label: "gatepeer.state")
    let kernel: Kernel
    let store: StateStore
    /// The addresses learned for domain names (learned.json as the daemon last saved it).
    var learned: LearnedAddresses
    /// The daemon's counters since it started (applies, repairs by kind, events, ...).
    var counters = DaemonCounters()
    /// Liveness of every configured VPG gate peer, one entry per (link, outer address).
    var peers: [PeerLiveness] = []
    /// Per link name: why its peers cannot be probed (e.g. the probe socket cannot be
    /// opened without CAP_NET_RAW); set and cleared by the liveness service, then
    /// runtimeChanged(). Shown by `status` (degraded) and `metrics`.
    var livenessProblems: [String: String] = [:]

    /// What the last reconcile pass left standing (blockers, refused changes, a failed
    /// kernel read), one line each; nil before the first pass, empty when it converged.
    var reconcileProblems: [String]?
    /// Run by the reconcile after each pass, once `reconcileProblems` is set: systemd's
    /// READY=1 after the first and its status line (SystemdNotifier).
    var afterReconcile: () -> Void = {}

    /// Called after `counters` or `peers` change: publishes the runtime report (read by
    /// `status`, `metrics` and `gatepeer health`) and the metrics textfile, at most once a
    /// second; `urgent` (a peer's state or a liveness problem changed) publishes at once,
    /// because keepalived's track script (`gatepeer health`) judges by it.
    func runtimeChanged(urgent: Bool = false) { runtimePublisher?.changed(urgent: urgent) }
    /// The service that writes them (set when it starts).
    weak var runtimePublisher: RuntimeReportService?
    /// Held for the daemon's whole life: one `gatepeer run` per network namespace.
    private let daemonLock: NamespaceLock

    /// Throws when another `gatepeer run` manages this network namespace (naming its pid),
    /// or when the kernel's netlink sockets cannot be opened (KernelError).
    init(configPath: String, config: GatePeerConfig) throws {
        Memory.prepareForLongRunning()
        self.configPath = configPath
        self.config = config
        store = StateStore.open()
        do {
            daemonLock = try NamespaceLock.daemon(store.namespace)
        } catch let busy as LockBusy {
            throw StateError(message: "gatepeer run (pid \(busy.holder)) already manages this network namespace (\(busy.path)); stop it first, or reload it (kill -HUP \(busy.holder))")
        }
        kernel = try Kernel()
        kernel.filterReadCache = store.filterReadCache
        // Without the writer lock: the file is replaced by rename, so it is read whole, and
        // waiting here could only end in an empty copy that the next save writes over it.
        learned = store.loadLearned()
    }

    /// Runs `body` under the namespace's writer lock (waiting a bounded time for a grant
    /// or revoke to finish); nil, logged, when another writer keeps it longer.
    func writing<T>(_ body: () throws -> T) rethrows -> T? {
        let lock: NamespaceLock
        do {
            lock = try NamespaceLock.writer(store.namespace, command: "gatepeer run", announce: { log(.info, $0, ["object": "lock"]) })
        } catch {
            log(.warning, "\(error); trying again later", ["object": "lock"])
            return nil
        }
        store.holdsWriterLock = true
        // After every write cycle (a reconcile, a load of learned elements), whatever it
        // freed goes back to the kernel: the daemon keeps the one-shot heap settings for a
        // fast converge, but not their never-return policy (Memory.returnFreed).
        defer { store.holdsWriterLock = false; Memory.returnFreed() }
        return try withExtendedLifetime(lock) { try body() }
    }

    /// The grant and learned elements the kernel must hold (from grants.json and the
    /// learned addresses in memory) for a plan against `observed`.
    func dynamicElements(_ observed: ObservedState) -> [NftElement] {
        store.dynamicElements(config, observed: observed, learned: learned)
    }

    /// learned.json and the kernel's learned elements change together under the writer
    /// lock, so a full load in between cannot miss them. Elements of `previous` that are
    /// gone (an address that made room for another) are deleted at once, so the kernel
    /// and `filter check` never differ. False when the elements could not be loaded at all
    /// (netlink failed, or another writer kept the lock).
    @discardableResult
    func saveAndLoadLearned(replacing previous: LearnedAddresses) -> Bool {
        writing { () -> Bool in
            do {
                try store.saveLearned(learned)
            } catch {
                log(.error, "cannot save learned addresses: \(error)", ["object": "file", "path": store.learnedPath])
            }
            do {
                let ms = WallClock.milliseconds()
                let elements = learned.elements(config, nowMs: ms)
                let now = Set(elements.map { $0.set + "|" + $0.keyText })
                let gone = previous.elements(config, nowMs: ms).filter { !now.contains($0.set + "|" + $0.keyText) }
                try kernel.deleteElements(gone)
                // One refused element (logged) does not make the others untrue.
                for f in try kernel.loadElements(elements) { log(.warning, "learned address not loaded: \(f)", ["object": "filter"]) }
                return true
            } catch {
                log(.error, "loading learned addresses failed: \(error)", ["object": "filter"])
                return false
            }
        } ?? false
    }
}
