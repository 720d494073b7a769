import GatePeerCore
import GatePeerKernel

/// `gatepeer status`: each link as the kernel holds it (observed now), the filter's
/// counters (nf_tables counters and map element counters), and what a plan would change.
enum StatusCommand: GatePeerCommand {
    static let words = ["status"]
    static let options: [OptionSpec] = [.config, .json]

    static func run(_ c: CommandContext) -> Exit {
        let config = c.loadConfig()
        // No lock: status only reads, and must answer while a long load runs.
        let (kernel, store) = c.kernelAndState("status")
        do {
            let (observed, plan) = try CommandContext.observeAndPlan(kernel, store, config)
            var report = StatusReport(config: config, observed: observed, plan: plan)
            if plan.ruleset != nil {
                var elements: [Int: [(IPAddress, PacketCount)]] = [:]
                if let f = config.filter, observed.filter != nil {
                    // The maps the kernel holds, sharded or not, whatever this config renders.
                    let counted = (try? kernel.mapElementCounters { NftNames.destinationGroup(ofMap: $0) != nil }) ?? [:]
                    for (name, list) in counted {
                        guard let gi = NftNames.destinationGroup(ofMap: name), f.outbound.indices.contains(gi) else { continue }
                        elements[gi, default: []] += list
                    }
                }
                report.filter = FilterStatus(config: config, observed: observed, ruleset: plan.ruleset, elements: elements, pending: plan.changes)
            }
            // Names and aliases read from the kernel are anyone's input.
            print(c.json ? report.json.render() : Echo.text(report.text))
            return .ok
        } catch {
            Console.error(NetAdmin.describe(error, verb: "status"))
            return .runtime
        }
    }
}
