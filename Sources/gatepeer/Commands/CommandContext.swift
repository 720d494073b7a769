import GatePeerCore
import GatePeerKernel
import Glibc

/// What a command gets: the command line as parsed for it, and the steps several commands
/// share (read the config, open the kernel, print a plan), each defined once here.
struct CommandContext {
    /// The options and arguments given to the command.
    let invocation: Invocation

    /// -c/--config, else /etc/gatepeer/gatepeer.json.
    var configPath: String { invocation.value(.config) ?? Usage.defaultConfigPath }
    /// -j/--json: machine-readable output on stdout.
    var json: Bool { invocation.has(.json) }
    /// The words after the command's own.
    var arguments: [String] { invocation.arguments }

    /// Reads, decodes and checks the config; on bad input prints every problem and exits 2
    /// before any kernel access (a config that cannot be read is bad input too: the path
    /// is the operator's). `beforeExit`: run with the file's bytes after the problems of a
    /// config that does not decode are printed, before the exit (`ipsec lint` checks key
    /// files there).
    func loadConfig(beforeExit: (([UInt8]) -> Void)? = nil) -> GatePeerConfig {
        let path = configPath
        // Before the first large allocation, which the file itself is.
        if let size = Files.size(path), size > 1 << 20 { Memory.prepareForLargeInput() }
        let data: [UInt8]
        switch Files.read(path, limit: Files.configLimit) {
        case .success(let d): data = d
        case .failure(let e):
            Console.error("gatepeer: cannot read config \(Echo.path(e.path)): \(e.reason)")
            exit(Exit.usage.rawValue)
        }
        // Strings are checked as UTF-8 where they are parsed; the error names the line.
        switch ConfigDecoder.decode(bytes: data) {
        case .success(let c): return c
        case .failure(let e):
            Console.error("gatepeer: \(Echo.path(path)): \(e.count) problem(s):")
            for line in e.report(indent: "  ") { Console.error(line) }
            beforeExit?(data)
            exit(Exit.usage.rawValue)
        }
    }

    /// The kernel connection (netlink sockets); exits 1 without CAP_NET_ADMIN or when the
    /// sockets cannot be opened, naming why. `verb` names the command in the hint.
    func openKernel(_ verb: String) -> Kernel {
        NetAdmin.require(verb)
        do {
            return try Kernel()
        } catch {
            Console.error("gatepeer: \(error)")
            exit(Exit.runtime.rawValue)
        }
    }

    /// The kernel connection (`openKernel`) and this namespace's state store (reported when
    /// refused), the kernel reading the filter table through the store's read cache.
    func kernelAndState(_ verb: String) -> (Kernel, StateStore) {
        let kernel = openKernel(verb)
        let store = StateStore.open()
        kernel.filterReadCache = store.filterReadCache
        return (kernel, store)
    }

    /// The kernel observed (the links, sysctls and filter table `config` concerns) and the
    /// plan from it to `config`, with the grant and learned elements `store` says the table
    /// must carry. Throws when netlink fails.
    static func observeAndPlan(_ kernel: Kernel, _ store: StateStore, _ config: GatePeerConfig) throws -> (observed: ObservedState, plan: Plan) {
        let observed = try kernel.observe(sysctls: Planner.sysctlKeys(for: config))
        return (observed, Planner.plan(config: config, observed: observed, dynamic: store.dynamicElements(config, observed: observed)))
    }

    /// The plan's changes on stdout (one line each, or "no changes"; JSON with `json`),
    /// its blockers and warnings on stderr.
    static func printPlan(_ plan: Plan, json: Bool) {
        if json {
            print(JSONOut.object(["changes": .array(plan.changes.map { .object($0.json) }),
                                  "blockers": .array(plan.blockers.map { .string($0) }),
                                  "warnings": .array(plan.warnings.map { .string($0) }),
                                  "notes": .array(plan.notes.map { .string($0) })]).render())
        } else if plan.changes.isEmpty {
            // A blocked link's changes are not planned: "no changes" alone would read as converged.
            print(plan.blockers.isEmpty ? "no changes" : "no changes (\(plan.blockers.count) blocked: see stderr)")
        } else {
            for c in plan.changes { print(Echo.line(c.line)) }  // names read from the kernel
        }
        printProblems(blockers: plan.blockers, warnings: plan.warnings, notes: plan.notes)
    }

    /// "blocked: ...", "warning: ..." and "note: ..." lines on stderr.
    static func printProblems(blockers: [String], warnings: [String], notes: [String] = []) {
        for b in blockers { Console.error("blocked: \(b)") }
        for w in warnings { Console.error("warning: \(w)") }
        for n in notes { Console.error("note: \(n)") }
    }
}
