import GatePeerCore
import GatePeerKernel

/// `gatepeer filter revoke`: removes a grant from grants.json and its elements from the
/// kernel; the kernel's elements go even when grants.json is damaged or does not list it
/// (GrantStore).
enum FilterRevokeCommand: GatePeerCommand {
    static let words = ["filter", "revoke"]
    /// --for is read only to refuse it by name ("revoke takes no duration").
    static let options: [OptionSpec] = [.config, .from, .to, .proto, .port, .duration]

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        let r = try GrantRequest.read(c, revoke: true)
        return r.perform(c) { store, kernel in try store.revoke(r.grant, now: r.now, kernel: kernel) }
    }
}
