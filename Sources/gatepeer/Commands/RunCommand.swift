import GatePeerCore
import GatePeerKernel

/// `gatepeer run`: the service. Checks its options and the config, then hands over to
/// the daemon (Daemon/), which does not return.
enum RunCommand: GatePeerCommand {
    static let words = ["run"]
    static let options: [OptionSpec] = [.config, .resync]

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        var resync = 300
        if let text = c.invocation.value(.resync) {
            guard let n = DecimalText.parse(text, in: 1...3600) else {
                throw UsageError(message: "--resync needs a number of seconds 1..3600, not \(Echo.quoted(text))")
            }
            resync = n
        }
        let config = c.loadConfig()
        NetAdmin.require("run")
        do {
            // consume: run() never returns, so a copy kept in this frame would hold the
            // first config (tens of MB for a large policy) for the daemon's whole life,
            // beside the one each reload brings.
            try Daemon(configPath: c.configPath, config: consume config, resync: resync).run()
        } catch {
            Console.error(NetAdmin.describe(error, verb: "run"))
            return .runtime
        }
    }
}
