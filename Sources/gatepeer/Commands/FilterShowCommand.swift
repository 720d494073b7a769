import GatePeerCore
import GatePeerKernel

/// `gatepeer filter show`: the text of table inet gatepeer as apply would load it.
enum FilterShowCommand: GatePeerCommand {
    static let words = ["filter", "show"]
    static let options: [OptionSpec] = [.config]

    static func run(_ c: CommandContext) -> Exit {
        let config = c.loadConfig()
        // MTUs come from the underlay when the config leaves them out: read it if we can.
        let observed = (try? Kernel().observe(sysctls: [])) ?? ObservedState()
        // The plan's table: what apply would load, blocked links' running tunnels included.
        guard let rs = Planner.plan(config: config, observed: observed).ruleset else {
            Console.error("gatepeer: \(Echo.path(c.configPath)) has no links and no filter section; gatepeer keeps no nftables table")
            return .ok
        }
        print(rs.fullText, terminator: "")
        return .ok
    }
}
