import GatePeerCore
import GatePeerKernel

/// `gatepeer metrics`: the Prometheus text exposition (0.0.4) of links, filter counters,
/// VPG gate peers and the daemon's counters (docs/metrics.md), read from the kernel as
/// `status` reads it plus the running daemon's runtime report; the same text the daemon
/// writes to its textfile.
enum MetricsCommand: GatePeerCommand {
    static let words = ["metrics"]
    static let options: [OptionSpec] = [.config]

    static func run(_ c: CommandContext) -> Exit {
        let config = c.loadConfig()
        // No lock: like status, it only reads.
        let (kernel, store) = c.kernelAndState("metrics")
        do {
            var report = try StatusCommand.observe(kernel, store, config)
            report.attach(store.runtimeReading())
            print(render(report, store, config, learned: store.loadLearned()), terminator: "")
            return .ok
        } catch {
            Console.error(NetAdmin.describe(error, verb: "metrics"))
            return .runtime
        }
    }

    /// The exposition of `report` (the kernel's part and the runtime report attached),
    /// with the grants in grants.json and the unexpired addresses of `learned`.
    static func render(_ report: StatusReport, _ store: StateStore, _ config: GatePeerConfig, learned: LearnedAddresses) -> String {
        let now = WallClock.seconds()
        let filtered = config.filter != nil
        let grants = filtered ? store.loadGrantsIfKnown()?.filter { $0.expires > now }.count : nil
        let addresses = Set(learned.names.values.joined().filter { $0.expires > now }.map(\.address)).count
        return GatePeerMetrics.render(report, config: config, grantsActive: grants, learnedAddresses: filtered ? addresses : nil)
    }
}
