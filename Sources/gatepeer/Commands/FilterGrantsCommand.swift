import GatePeerCore

/// `gatepeer filter grants`: the active grants as grants.json lists them (GrantStore); exit 1
/// when they are unknown (an empty list would hide the kernel's live grants).
enum FilterGrantsCommand: GatePeerCommand {
    static let words = ["filter", "grants"]
    static let options: [OptionSpec] = [.config, .json]

    static func run(_ c: CommandContext) -> Exit {
        let n = WallClock.seconds()
        let active: [Grant]
        do { active = try GrantStore().active(now: n) } catch {
            Console.error("gatepeer: \(error.message)")
            return error.exit
        }
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
