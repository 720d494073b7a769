import GatePeerCore
import GatePeerKernel

/// One pass of observe, plan, apply and read back, shared by `apply`, `down` and the
/// daemon's reconcile, so none of them can report a change the kernel did not take.
///
/// The read-back observes the kernel again and plans again: whatever that second plan
/// still wants of the applied plan was not taken (the kernel refused it, or answered
/// success and did nothing, as the vxlan driver does for an FDB delete that matches no
/// remote); anything else it wants changed during the apply (another tool) and was never
/// tried. Either is a problem (exit 1). Only changes no longer wanted count as applied.
struct Converge {
    /// The plan that was applied (its changes, blockers and warnings as planned).
    var plan: Plan
    /// What the kernel refused, request by request.
    var failures: [KernelError]
    /// The plan's changes the read-back no longer wants, and the lines it still does.
    var readBack: ReadBack
    /// What the kernel held before anything was applied (the daemon's liveness reads
    /// which links this node is the HA standby for from it).
    var observed: ObservedState

    /// True when nothing failed, nothing is still wanted and nothing was blocked.
    var converged: Bool {
        failures.isEmpty && readBack.notTaken.isEmpty && readBack.changedDuringApply.isEmpty && plan.blockers.isEmpty
    }

    /// Every problem as one line each, for stderr or the daemon's log.
    var problems: [String] {
        failures.map { "failed: \($0)" } + readBack.notTaken.map { "not taken by the kernel: \($0)" }
            + readBack.changedDuringApply.map { "changed during apply: \($0)" }
    }

    /// Observes, plans, applies `config` and reads back. `beforeApply` sees the plan first
    /// (the CLI prints it; the daemon logs it). With nothing to change, nothing is applied
    /// and nothing is read back. Throws only when netlink itself fails.
    /// `dynamic` gives the grant and learned elements the table must carry (read once,
    /// under the caller's writer lock, after the kernel is observed, so a refused state
    /// directory can answer with what the kernel holds): planned against the kernel's,
    /// loaded with a new table, and read back like everything else.
    static func run(_ kernel: Kernel, config: GatePeerConfig, mapCache: MapCache?, dynamic: (ObservedState) -> [NftElement],
                    beforeApply: (Plan) -> Void = { _ in }) throws -> Converge {
        let keys = Planner.sysctlKeys(for: config)
        let observed = try kernel.observe(sysctls: keys)
        let elements = dynamic(observed)
        let plan = Planner.plan(config: config, observed: observed, dynamic: elements)
        beforeApply(plan)
        guard !plan.isEmpty else { return Converge(plan: plan, failures: [], readBack: ReadBack(planned: plan, after: plan), observed: observed) }
        let report = try kernel.apply(plan, observed: observed, filterExtras: elements, mapCache: mapCache)
        let after = Planner.plan(config: config, observed: try kernel.observe(sysctls: keys), dynamic: elements, rendered: plan)
        return Converge(plan: plan, failures: report.failures, readBack: ReadBack(planned: plan, after: after), observed: observed)
    }
}
