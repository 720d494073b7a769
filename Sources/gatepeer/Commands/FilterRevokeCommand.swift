import GatePeerCore
import GatePeerKernel

/// `gatepeer filter revoke`: removes a grant from grants.json and its elements from the
/// kernel; the kernel's elements go even when grants.json is damaged or does not list it.
enum FilterRevokeCommand: GatePeerCommand {
    static let words = ["filter", "revoke"]
    /// --for is read only to refuse it by name ("revoke takes no duration").
    static let options: [OptionSpec] = [.config, .from, .to, .proto, .port, .duration]

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        let request = try GrantRequest.read(c, revoke: true)
        let grant = request.grant
        return request.locked(c) { store, known, kernel in
            let n = WallClock.seconds()
            var grants = (known ?? []).filter { $0.expires > n }
            let tableThere = try kernel.observeFilter() != nil  // only the table's counters, no full dumps
            // The kernel's elements for this scope go whatever the file says: a damaged or
            // stale grants.json must not leave a live grant unrevocable.
            let inFile = grants.contains { $0.sameScope(as: grant) }
            let deleted = tableThere ? try kernel.deleteElements(GrantState.deleteElements(grant)) : 0
            let fileText = known == nil ? "\(store.grantsPath) is damaged and was left as it is" : "it was not in \(store.grantsPath)"
            guard inFile || deleted > 0 else {
                Console.error("gatepeer: no active grant \(grant.summary): \(known == nil ? fileText : "not in \(store.grantsPath)"), none of its elements in table inet \(NftRuleset.table)")
                return .runtime
            }
            if inFile {
                grants.removeAll { $0.sameScope(as: grant) }
                try store.saveGrants(grants)
            }
            let kernelPart = tableThere ? "\(deleted) element(s) deleted from table inet \(NftRuleset.table)" : "no filter table loaded"
            print(Echo.line("revoked \(grant.summary) (\(kernelPart)" + (inFile ? ")" : "; \(fileText))")))
            return .ok
        }
    }
}
