import Dispatch
import GatePeerCore
import GatePeerKernel
import Glibc

/// The reconcile: the kernel is read back and whatever differs from the running config
/// is applied (drift repair: a deleted route, a lost FDB entry, a recreated underlay).
/// Runs at once on start and after a reload, whenever EventService sees a kernel event
/// that concerns the config or its accept_ra poll sees a change (accept_ra has no
/// event), and every `resync` seconds as a safety net (against a bug in the event path).
final class ReconcileService: DaemonService, @unchecked Sendable {
    /// Why a reconcile runs: a change applied at start or after a reload is the config
    /// taking effect; one applied on an event or at a resync repairs drift.
    enum Trigger: String {
        case start, reload, event, overrun, resync, poll
        var repairs: Bool { self != .start && self != .reload }
    }

    private let context: DaemonContext
    private let resync: Int
    private var timer: DispatchSourceTimer?
    private var started = false
    /// A pass that found the writer lock taken is tried again in a second (one at a time).
    private var retryPending = false
    /// The reconcile's standing problems (blockers, refused changes, unusable state).
    private var problems = StandingProblems()
    /// Called with true before a pass loads table inet gatepeer and with false when that
    /// pass is over: EventService stops listening to nf_tables events meanwhile (the load's
    /// own notifications, one per rule and element, would overrun its socket) and wakes
    /// one more pass after, which reads what it did not hear.
    var tableLoad: ((Bool) -> Void)?
    /// Called after each pass that read the kernel, with what it read before applying
    /// (LivenessService: which links this node is the HA standby for).
    var observed: ((ObservedState) -> Void)?

    /// `resync`: seconds between two safety-net reconciles (1 to 3600, checked by the
    /// option parser).
    init(_ context: DaemonContext, resync: Int) {
        self.context = context
        self.resync = resync
    }

    func start() {
        let t = DispatchSource.makeTimerSource(queue: context.queue)
        t.schedule(deadline: .now(), repeating: .seconds(resync))
        t.setEventHandler { [unowned self] in
            self.reconcile(self.started ? .resync : .start)
            self.started = true
        }
        t.resume()
        timer = t
    }

    /// The new config is applied now, not at the next tick.
    func reload() { reconcile(.reload) }

    func stop() {
        timer?.cancel()
        timer = nil
    }

    /// Read the kernel back and apply whatever differs (nothing, most of the time).
    func reconcile(_ trigger: Trigger) {
        if context.writing({ reconcileLocked(trigger) }) == nil {
            // Another writer kept the lock (logged): a pass all the same for systemd, so a
            // start is READY with the reason in its status, not held until a later resync.
            context.reconcileProblems = ["another gatepeer command holds the writer lock; trying again in 1 s"]
            context.afterReconcile()
            // The event that asked for this pass will not come again: retry soon rather
            // than leave the drift to the resync minutes away.
            guard !retryPending else { return }
            retryPending = true
            context.queue.asyncAfter(deadline: .now() + 1) { [weak self] in
                self?.retryPending = false
                self?.reconcile(trigger)
            }
        }
    }

    private func reconcileLocked(_ trigger: Trigger) {
        // Logged through `problems`: the same blocker at every resync is one line when it
        // appears (or changes) and one when it clears, not one per pass.
        var found: [String] = []
        var loadingTable = false
        defer {
            if loadingTable { tableLoad?(false) }
            problems.update(found)
            context.reconcileProblems = found
            context.afterReconcile()
            context.runtimeChanged()
        }
        let store = context.store, config = context.config
        context.counters.passes[trigger.rawValue, default: 0] += 1
        do {
            if store.refusal == nil { try store.claim() }
            let c = try Converge.run(context.kernel, config: config, mapCache: store.mapCache, dynamic: context.dynamicElements) { plan in
                found += plan.blockers.map { "blocked: \($0)" }
                if plan.changes.contains(where: \.loadsTable) {
                    loadingTable = true
                    tableLoad?(true)
                }
            }
            count(c, trigger)
            observed?(c.observed)
            found += c.problems
            if c.failures.contains(where: { $0.errno == EPERM }) {
                Console.error(NetAdmin.hint("run"))
                exit(Exit.runtime.rawValue)
            }
            if let m = store.stateProblem(keptDynamic: config.filter != nil) { found.append(m) }
        } catch let k as KernelError where k.errno == EPERM {
            // The capability was taken away (or never there): every later try fails the
            // same way, so say why once and stop instead of logging it at every resync.
            log(.error, "reconcile failed: \(k)")
            Console.error(NetAdmin.hint("run"))
            exit(Exit.runtime.rawValue)
        } catch {
            context.counters.failures += 1
            found.append("reconcile failed: \(error)")
        }
    }

    /// Logs each change the kernel took (info: object=, action=, change=, trigger=) and
    /// counts the pass:
    /// applies, changes applied, repairs by kind (a change on an event or at a resync),
    /// failures, and the time of the last pass that left nothing to do.
    private func count(_ c: Converge, _ trigger: Trigger) {
        // By identity: a change the kernel did not take may read differently afterwards.
        let taken = c.plan.changes.filter { !c.readBack.notTakenIdentities.contains($0.identity) }
        for ch in taken {
            let kind = Self.repairKind(ch)
            log(.info, "applied", ["object": kind, "action": Self.action(ch), "change": String(ch.line.dropFirst(2)), "trigger": trigger.rawValue])
            if trigger.repairs { context.counters.repairs[kind, default: 0] += 1 }
        }
        if c.readBack.applied > 0 {
            context.counters.applies += 1
            context.counters.changesApplied += UInt64(c.readBack.applied)
        }
        if !c.failures.isEmpty || !c.readBack.notTaken.isEmpty { context.counters.failures += 1 }
        if c.converged { context.counters.lastConverged = Clock.now() }
    }

    /// The log's action= of a plan change: "add", "change" or "delete" (its sign).
    static func action(_ ch: Plan.Change) -> String {
        switch ch.sign {
        case "+": return "add"
        case "-": return "delete"
        default: return "change"
        }
    }

    /// The repair kind of a plan change (DaemonCounters.repairs): the plan's object, with
    /// "nftables" named "filter".
    static func repairKind(_ ch: Plan.Change) -> String { ch.object == "nftables" ? "filter" : ch.object }
}
