import GatePeerCore
import GatePeerKernel

/// `gatepeer filter grant`: a temporary allow, loaded into the kernel's grant sets (with
/// an element timeout, so it expires by itself) and recorded in grants.json.
enum FilterGrantCommand: GatePeerCommand {
    static let words = ["filter", "grant"]
    static let options: [OptionSpec] = [.config, .from, .to, .proto, .port, .duration]

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        let request = try GrantRequest.read(c, revoke: false)
        let grant = request.grant
        return request.locked(c) { store, known, kernel in
            guard let known else {
                // Writing a file with only this grant would let the next apply strip the others.
                Console.error("gatepeer: filter grant: not done: " + store.stateProblem(keptDynamic: true, verb: "stay")!)
                return .runtime
            }
            let n = WallClock.seconds()
            var grants = known.filter { $0.expires > n }
            let tableThere = try kernel.observeFilter() != nil  // only the table's counters, no full dumps
            if let c = grants.first(where: { $0.conflicts(with: grant) }) {
                Console.error("gatepeer: filter grant: overlaps the active grant \(c.summary) (expires in \(Grant.formatDuration(c.expires - n))); revoke it or grant a disjoint scope")
                return .usage
            }
            if let old = grants.firstIndex(where: { $0.sameScope(as: grant) }) {
                grants[old].expires = grant.expires  // a renewal
            } else {
                grants.append(grant)
            }
            // A file too large to read back is refused before the kernel changes.
            let text: String
            do { text = try store.grantsText(grants) } catch {
                Console.error("gatepeer: filter grant: \(error)")
                return .runtime
            }
            // The kernel first: a grant it refuses is not recorded as if it held.
            if tableThere {
                if let refused = try kernel.loadElements(GrantState.elements([grant], nowMs: WallClock.milliseconds())).first { throw refused }
            }
            try store.saveGrants(text: text)
            let duration = Grant.formatDuration(request.seconds)
            print(tableThere ? "granted \(grant.summary) for \(duration)" : "granted \(grant.summary) for \(duration) (active once gatepeer apply loads the filter)")
            return .ok
        }
    }
}
