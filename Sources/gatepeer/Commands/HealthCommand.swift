import GatePeerCore
import GatePeerKernel

/// `gatepeer health`: exit 0 when this node can carry its VPG links now, 1 with one line
/// saying why not (HealthCheck has the rules); keepalived's vrrp_script. Reads only: no
/// lock, no state written, nothing changed (the same reads as `status`).
enum HealthCommand: GatePeerCommand {
    static let words = ["health"]
    static let options: [OptionSpec] = [.config]

    static func run(_ c: CommandContext) -> Exit {
        let config = c.loadConfig()
        let (kernel, store) = c.kernelAndState("health")
        do {
            let (observed, plan) = try CommandContext.observeAndPlan(kernel, store, config)
            let daemon: HealthCheck.Daemon
            switch store.runtimeReading() {
            case .none: daemon = .none
            case .live(let r): daemon = .live(r)
            case .unbelievable(let pid, let problem): daemon = .unbelievable("daemon pid \(pid) runs but its runtime report \(problem)")
            }
            // The hold-down after a FAULT counts from the time ha notify recorded it.
            var faultSeconds: Double?
            if config.ha != nil, case .success(let r?) = store.loadHAState(), r.notification.state == .fault {
                faultSeconds = Clock.now() - r.unixTime
            }
            let now = Clock.monotonic()
            let verdict = HealthCheck.judge(config: config, observed: observed, plan: plan, daemon: daemon,
                                            faultSeconds: faultSeconds) { l in
                guard let created = HAStandby.outerAddress(l, observed)?.createdSeconds else { return nil }
                return now - created
            }
            if verdict.healthy {
                print(Echo.line(verdict.line))
                return .ok
            }
            Console.error(verdict.line)
            return .runtime
        } catch {
            Console.error(NetAdmin.describe(error, verb: "health"))
            return .runtime
        }
    }
}
