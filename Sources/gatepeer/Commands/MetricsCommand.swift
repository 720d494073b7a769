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
            print(try text(kernel, store, config, runtime: store.liveRuntimeReport(), learned: store.loadLearned()), terminator: "")
            return .ok
        } catch {
            Console.error(NetAdmin.describe(error, verb: "metrics"))
            return .runtime
        }
    }

    /// The exposition for `config` from the kernel, `runtime` (the live daemon's report,
    /// or nil), the grants in grants.json and `learned`. Throws when netlink fails.
    static func text(_ kernel: Kernel, _ store: StateStore, _ config: GatePeerConfig, runtime: RuntimeReport?,
                     learned: LearnedAddresses) throws -> String {
        var report = try StatusCommand.observe(kernel, store, config)
        report.attach(runtime)
        let now = WallClock.seconds()
        let filtered = config.filter != nil
        let grants = filtered ? store.loadGrantsIfKnown()?.filter { $0.expires > now }.count : nil
        let addresses = Set(learned.names.values.joined().filter { $0.expires > now }.map(\.address)).count
        return GatePeerMetrics.render(report, config: config, grantsActive: grants, learnedAddresses: filtered ? addresses : nil)
    }
}
