import GatePeerCore

/// `gatepeer filter grants`: the active grants as grants.json lists them.
enum FilterGrantsCommand: GatePeerCommand {
    static let words = ["filter", "grants"]
    static let options: [OptionSpec] = [.config, .json]

    static func run(_ c: CommandContext) -> Exit {
        let n = WallClock.seconds()
        let store = StateStore.open()
        if store.refusal != nil {
            // open() printed why; "no active grants" would hide the kernel's live ones.
            Console.error("gatepeer: filter grants: state refused, so the active grants are unknown (the kernel keeps its grant elements; see nft list table inet \(NftRuleset.table))")
            return .runtime
        }
        guard let grants = store.loadGrantsIfKnown() else {
            // An empty list would hide the kernel's live grants.
            Console.error("gatepeer: filter grants: " + store.stateProblem(keptDynamic: true, verb: "stay")!)
            return .runtime
        }
        let active = grants.filter { $0.expires > n }
        if c.json {
            print(JSONOut.array(active.map { .object(["grant": .string($0.summary), "expires": .int($0.expires), "remainingSeconds": .int($0.expires - n)]) }).render())
        } else if active.isEmpty {
            print("no active grants")
        } else {
            for g in active { print("\(g.summary)  expires in \(Grant.formatDuration(g.expires - n))") }
        }
        return .ok
    }
}
