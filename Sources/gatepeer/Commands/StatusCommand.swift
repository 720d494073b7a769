import GatePeerCore
import GatePeerKernel

/// `gatepeer status`: each link as the kernel holds it (observed now), the filter's
/// counters (nf_tables counters and map element counters), what a plan would change, and
/// each VPG gate peer's liveness from the running daemon's runtime report. Exit 0 in
/// sync with every judged peer up, 3 degraded (StatusReport.degradedReasons), 1 when the
/// kernel cannot be read. With an `ha` section it also shows what keepalived last told
/// `gatepeer ha notify` (ha-state.json): a line "ha: MASTER since ..." and an "ha" object.
enum StatusCommand: GatePeerCommand {
    static let words = ["status"]
    static let options: [OptionSpec] = [.config, .json]

    static func run(_ c: CommandContext) -> Exit {
        let config = c.loadConfig()
        // No lock: status only reads, and must answer while a long load runs.
        let (kernel, store) = c.kernelAndState("status")
        do {
            var report = try observe(kernel, store, config)
            report.attach(store.runtimeReading())
            let ha = config.ha == nil ? nil : haStatus(store)
            // Names and aliases read from the kernel are anyone's input.
            if c.json {
                var json = report.json
                if let ha, case .object(var d) = json { d["ha"] = ha.json; json = .object(d) }
                print(json.render())
            } else {
                print(Echo.text(report.text + (ha.map { "\nha: " + $0.text } ?? "")))
            }
            return report.degradedReasons.isEmpty ? .ok : .degraded
        } catch {
            Console.error(NetAdmin.describe(error, verb: "status"))
            return .runtime
        }
    }

    /// The HA state as `gatepeer ha notify` recorded it: `text` after "ha: " ("MASTER since
    /// 2026-12-02 16:40:03 UTC (group gatepeer, priority 150)", or "unknown (why)"), and
    /// `json` the record's object (HAState.Record.json) with "problem": null, or for an
    /// unknown state {"state": "unknown", "problem": why} with the other fields null.
    static func haStatus(_ store: StateStore) -> (text: String, json: JSONOut) {
        let problem: String
        switch store.loadHAState() {
        case .success(let r?):
            guard case .object(var d) = r.json else { return (r.text, r.json) }
            d["problem"] = .null
            return (r.text, .object(d))
        case .success(nil): problem = "no notification yet"
        case .failure(let e): problem = e.message
        }
        let json: JSONOut = .object(["state": .string("unknown"), "type": .null, "name": .null, "priority": .null,
                                     "time": .null, "unixTime": .null, "problem": .string(problem)])
        return ("unknown (\(problem))", json)
    }

    /// The kernel's part of the status: links, sysctls, the plan's changes and blockers,
    /// and the filter's counters (verdicts, per rule through the destination maps'
    /// element counters). Shared by `status`, `metrics` and the daemon's textfile.
    /// Throws when netlink fails.
    static func observe(_ kernel: Kernel, _ store: StateStore, _ config: GatePeerConfig) throws -> StatusReport {
        let (observed, plan) = try CommandContext.observeAndPlan(kernel, store, config)
        var report = StatusReport(config: config, observed: observed, plan: plan)
        report.filter = filterStatus(kernel, config, observed, ruleset: plan.ruleset, pending: plan.changes)
        return report
    }

    /// The filter's counters (verdicts, per rule through the destination maps' element
    /// counters) against `ruleset` (what the config renders; nil: no filter status).
    static func filterStatus(_ kernel: Kernel, _ config: GatePeerConfig, _ observed: ObservedState, ruleset: NftRuleset?,
                             pending: [Plan.Change]) -> FilterStatus? {
        guard ruleset != nil else { return nil }
        var elements: [Int: [(IPAddress, PacketCount)]] = [:]
        if let f = config.filter, observed.filter != nil {
            // The maps the kernel holds, sharded or not, whatever this config renders.
            let counted = (try? kernel.mapElementCounters { NftNames.destinationGroup(ofMap: $0) != nil }) ?? [:]
            for (name, list) in counted {
                guard let gi = NftNames.destinationGroup(ofMap: name), f.outbound.indices.contains(gi) else { continue }
                elements[gi, default: []] += list
            }
        }
        return FilterStatus(config: config, observed: observed, ruleset: ruleset, elements: elements, pending: pending)
    }
}
