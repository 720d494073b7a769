import GatePeerCore
import GatePeerKernel
import Glibc

/// `gatepeer apply`: makes the kernel match the config, then reads it back.
enum ApplyCommand: GatePeerCommand {
    static let words = ["apply"]
    static let options: [OptionSpec] = [.config, .json]

    static func run(_ c: CommandContext) -> Exit {
        converge(c, verb: "apply", to: c.loadConfig())
    }

    /// One Converge pass to `config` under the namespace's writer lock, for `apply` and
    /// `down` (an empty config): the changes on stdout (JSON with --json, with the count
    /// applied), every failure, blocker and warning on stderr. Exit 0 only when the
    /// read-back shows the kernel holds the config and the state it carries was usable.
    static func converge(_ c: CommandContext, verb: String, to config: GatePeerConfig) -> Exit {
        let (kernel, store) = c.kernelAndState(verb)
        // One writer per network namespace: observe, plan, load and read back, with the
        // grants and learned addresses read under the same lock, so nothing lands between.
        let lock: NamespaceLock
        do { lock = try store.lockForWriting(verb) } catch { Console.error("gatepeer: \(error)"); return .runtime }
        defer { withExtendedLifetime(lock) {} }
        do {
            if verb == "apply" && store.refusal == nil { try store.claim() }
            let result = try Converge.run(kernel, config: config, mapCache: store.mapCache, dynamic: { store.dynamicElements(config, observed: $0) })
            if c.json {
                print(JSONOut.object([
                    "changes": .array(result.plan.changes.map { .object($0.json) }),
                    "failures": .array(result.problems.map { .string($0) }),
                    "blockers": .array(result.plan.blockers.map { .string($0) }),
                    "warnings": .array(result.plan.warnings.map { .string($0) }),
                    "notes": .array(result.plan.notes.map { .string($0) }),
                    "applied": .int(Int64(result.readBack.applied)),
                ]).render())
            } else {
                for ch in result.plan.changes { print(Echo.line(ch.line)) }
            }
            for p in result.problems { Console.error("gatepeer: \(p)") }
            if result.failures.contains(where: { $0.errno == EPERM }) { Console.error(NetAdmin.hint(verb)) }
            CommandContext.printProblems(blockers: result.plan.blockers, warnings: result.plan.warnings, notes: result.plan.notes)
            if !c.json {
                Console.error("gatepeer: \(verb): \(result.readBack.applied) of \(result.plan.changes.count) change(s) applied")
            }
            // The kernel holds the config, but the state it must carry could not be read:
            // not success, so the user repairs the state and applies again.
            if let m = store.stateProblem(keptDynamic: config.filter != nil) {
                Console.error("gatepeer: \(verb): \(m)")
                return .runtime
            }
            return result.converged ? .ok : .runtime
        } catch {
            Console.error(NetAdmin.describe(error, verb: verb))
            return .runtime
        }
    }
}
