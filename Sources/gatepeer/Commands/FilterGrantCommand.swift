import GatePeerCore
import GatePeerKernel

/// `gatepeer filter grant`: a temporary allow, loaded into the kernel's grant sets (with
/// an element timeout, so it expires by itself) and recorded in grants.json (GrantStore).
enum FilterGrantCommand: GatePeerCommand {
    static let words = ["filter", "grant"]
    static let options: [OptionSpec] = [.config, .from, .to, .proto, .port, .duration]

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        let r = try GrantRequest.read(c, revoke: false)
        return r.perform(c) { store, kernel in try store.grant(r.grant, seconds: r.seconds, now: r.now, kernel: kernel) }
    }
}
