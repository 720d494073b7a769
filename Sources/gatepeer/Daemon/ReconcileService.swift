import Dispatch
import GatePeerCore
import GatePeerKernel
import Glibc

/// The reconcile loop: every `resync` seconds the kernel is read back and whatever
/// differs from the running config is applied (drift repair: a deleted route, a lost FDB
/// entry, a recreated underlay); at once on start and after a reload.
final class ReconcileService: DaemonService, @unchecked Sendable {
    private let context: DaemonContext
    private let resync: Int
    private var timer: DispatchSourceTimer?
    /// The reconcile's standing problems (blockers, refused changes, unusable state).
    private var problems = StandingProblems()

    /// `resync`: seconds between two reconciles (1 to 3600, checked by the option parser).
    init(_ context: DaemonContext, resync: Int) {
        self.context = context
        self.resync = resync
    }

    func start() {
        let t = DispatchSource.makeTimerSource(queue: context.queue)
        t.schedule(deadline: .now(), repeating: .seconds(resync))
        t.setEventHandler { [unowned self] in self.reconcile() }
        t.resume()
        timer = t
    }

    /// The new config is applied now, not at the next tick.
    func reload() { reconcile() }

    func stop() {
        timer?.cancel()
        timer = nil
    }

    /// Read the kernel back and apply whatever differs (nothing, most of the time).
    private func reconcile() {
        context.writing { reconcileLocked() }
    }

    private func reconcileLocked() {
        // Logged through `problems`: the same blocker at every resync is one line when it
        // appears (or changes) and one when it clears, not 2,880 a day at 30 s.
        var found: [String] = []
        defer {
            problems.update(found)
            context.reconcileProblems = found
            context.afterReconcile()
        }
        let store = context.store, config = context.config
        do {
            if store.refusal == nil { try store.claim() }
            let c = try Converge.run(context.kernel, config: config, mapCache: store.mapCache, dynamic: context.dynamicElements) { plan in
                found += plan.blockers.map { "blocked: \($0)" }
                for ch in plan.changes { log(ch.line) }
            }
            found += c.problems
            if c.failures.contains(where: { $0.errno == EPERM }) {
                Console.error(NetAdmin.hint("run"))
                exit(Exit.runtime.rawValue)
            }
            if let m = store.stateProblem(keptDynamic: config.filter != nil) { found.append(m) }
        } catch let k as KernelError where k.errno == EPERM {
            // The capability was taken away (or never there): every later try fails the
            // same way, so say why once and stop instead of logging it at every resync.
            log("reconcile failed: \(k)")
            Console.error(NetAdmin.hint("run"))
            exit(Exit.runtime.rawValue)
        } catch {
            found.append("reconcile failed: \(error)")
        }
    }
}
