import GatePeerCore
import GatePeerKernel

/// `gatepeer plan`: the changes apply would make, read from the kernel; nothing changes.
enum PlanCommand: GatePeerCommand {
    static let words = ["plan"]
    static let options: [OptionSpec] = [.config, .json]

    static func run(_ c: CommandContext) -> Exit {
        let config = c.loadConfig()
        let (kernel, store) = c.kernelAndState("plan")
        // Under the writer lock taken shared: the grants and learned addresses read here and
        // the kernel observed agree, and no writer is halfway through.
        let lock: NamespaceLock
        do { lock = try store.lockForWriting("plan") } catch { Console.error("gatepeer: \(error)"); return .runtime }
        defer { withExtendedLifetime(lock) {} }
        do {
            let plan = try CommandContext.observeAndPlan(kernel, store, config).plan
            CommandContext.printPlan(plan, json: c.json)
            // State that could not be read makes "no changes" no promise: an apply would fail too.
            if let m = store.stateProblem(keptDynamic: config.filter != nil, verb: "are planned") {
                Console.error("gatepeer: plan: \(m)")
                return .runtime
            }
            return plan.blockers.isEmpty ? .ok : .runtime
        } catch {
            Console.error(NetAdmin.describe(error, verb: "plan"))
            return .runtime
        }
    }
}
