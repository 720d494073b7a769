import Foundation
import Glibc
import GatePeerCore
import GatePeerKernel

/// Exit statuses: 0 done, 1 runtime failure (the kernel refused, a device is missing),
/// 2 bad input or usage. Data goes to stdout, progress and problems to stderr.
enum Exit: Int32 { case ok = 0, runtime = 1, usage = 2 }

struct UsageError: Error { let message: String }

/// Why `--flag VALUE` pairs could not be read.
enum OptionProblem: Error {
    /// A word that is not one of the allowed flags, or a flag without its value.
    case unexpected(String)
    /// A single-value flag given twice, with both values.
    case repeated(flag: String, first: String, second: String)

    /// The refusal for a repeated flag ("--to: given twice (A, B); give it once").
    static func repeatedMessage(_ flag: String, _ first: String, _ second: String) -> String {
        "\(Echo.value(flag)): given twice (\(Echo.value(first)), \(Echo.value(second))); give it once"
    }
}

/// `--flag VALUE` pairs, each flag at most once. Last-one-wins made `--to A --to B`
/// silently use B; a second value is a mistake to report, not to resolve.
func optionPairs(_ args: [String], allowed: [String]) -> Result<[String: String], OptionProblem> {
    var fields: [String: String] = [:]
    var i = 0
    while i < args.count {
        let flag = args[i]
        guard allowed.contains(flag), i + 1 < args.count else { return .failure(.unexpected(flag)) }
        if let first = fields[flag] { return .failure(.repeated(flag: flag, first: first, second: args[i + 1])) }
        fields[flag] = args[i + 1]
        i += 2
    }
    return .success(fields)
}

let defaultConfigPath = "/etc/gatepeer/gatepeer.json"

let topUsage = """
usage: gatepeer <command> [options]

Keeps VXLAN links to a VPG (virtual private gateway) converged to one config.

commands:
  validate   check the config and report every problem with its place in the file
  plan       show the changes apply would make (+ create, ~ change, - delete)
  apply      make the kernel match the config
  status     show each link as the kernel holds it, and whether it is in sync
  down       remove everything gatepeer made (links, FDB entries, addresses, routes, nftables table)
  run        the service: apply, then keep converging (drift repair, SIGHUP reload, DNS refresh)
  filter     check SRC DST [PROTO[/PORT]]: the verdict for one packet and the rule deciding it;
             show: the nftables table the config compiles to
  ipsec      render (swanctl, strongswan-legacy, libreswan, sheet; --side local|remote), lint,
             psk, apply: IPsec site-to-site configuration for both ends

options:
  -c, --config FILE   config file (default \(defaultConfigPath))
  --json              machine-readable output (plan, status, apply)
  -h, --help          help for gatepeer or a command

exit status: 0 ok, 1 runtime failure, 2 bad input or usage
"""

let commandUsage: [String: String] = [
    "validate": """
    usage: gatepeer validate [-c FILE]

    Decodes and checks the config without touching the kernel. Every problem is printed
    on its own line as PATH: MESSAGE, e.g. links[0].vxlanId: 0 is out of range; valid: 1..16777215.
    Exit 0 when valid, 2 otherwise.
    """,
    "plan": """
    usage: gatepeer plan [-c FILE] [--json]

    Reads the kernel and prints the changes apply would make, one per line:
      + created   ~ changed (attribute old -> new)   - deleted
    Nothing is changed. Prints "no changes" when the kernel matches the config.
    Exit 0, or 1 when something blocks part of the config (e.g. a missing underlay device).
    """,
    "apply": """
    usage: gatepeer apply [-c FILE] [--json]

    Makes the kernel match the config: creates, changes in place, or recreates the
    vxlan devices, their FDB entries, addresses, routes and sysctls. Only objects
    gatepeer owns are changed or deleted. A second apply changes nothing.
    After the changes the kernel is read back and planned again; a change it did not
    take is named ("not taken by the kernel: ...") and not counted as applied.
    Exit 0 when converged, 1 when something was refused, not taken or blocked.
    One writer per network namespace: waits up to 10 s for another gatepeer writer, then
    fails naming it; refuses while gatepeer run manages the namespace (reload it instead).
    """,
    "status": """
    usage: gatepeer status [-c FILE] [--json]

    Per link: device, oper state, vxlanId, port, outer address, MTU, inner address,
    gate peers (FDB), rx/tx packets and bytes, routes; forwarding sysctls; pending changes.
    """,
    "filter": """
    usage: gatepeer filter check SRC DST [PROTO[/PORT]] [-c FILE] [--json]
           gatepeer filter show [-c FILE]
           gatepeer filter grant --from PREFIX --to PREFIX [--proto P] [--port N[,LOW-HIGH]] --for DURATION
           gatepeer filter revoke --from PREFIX --to PREFIX [--proto P] [--port N[,LOW-HIGH]]
           gatepeer filter grants [--json]

    check: the verdict for one packet from SRC to DST (PROTO: tcp, udp, icmp, icmpv6, a
    number, or any; PORT for tcp/udp/sctp/dccp/udplite), and the rule that decides it,
    evaluated on the same compiled policy gatepeer loads into the kernel. A deny while
    grants.json is damaged or the state directory refused is "unknown", exit 1.
    show: the text of table inet gatepeer as apply would load it (nothing is changed).
    grant: a temporary allow from devices in --from to --to, for DURATION (90s, 30m, 2h,
    1d, 1h30m); it takes effect at once, is kept in /var/lib/gatepeer/grants.json (0600;
    another network namespace's in /var/lib/gatepeer/netns/NAME), survives re-apply and
    restart, and its nft elements expire by themselves.
    revoke: remove a grant (same --from/--to/--proto/--port); its kernel elements are
    deleted even when grants.json does not list it. grants: list active grants.
    A damaged grants.json is left in place and makes the grants unknown: grants, grant,
    plan and apply exit 1 and the kernel's grant elements are kept; revoke still works.
    """,
    "ipsec": ipsecUsage,
    "run": """
    usage: gatepeer run [-c FILE] [--resync SECONDS]

    The service (systemd runs this). Applies the config, then every --resync seconds
    (default 30) reads the kernel back and repairs drift; SIGHUP re-reads the config
    (a bad file is reported and the running config kept); domain names in filter rules
    are resolved against filter.resolvers when their TTL runs out, and their addresses
    loaded with TTL + domainSlackSeconds. SIGTERM stops it and leaves the kernel as it is.
    One per network namespace: a second run refuses, and apply and down refuse while it runs.
    """,
    "down": """
    usage: gatepeer down [--json]

    Removes every object gatepeer owns in this network namespace: vxlan links whose
    alias is exactly gatepeer:<their name> (with their FDB entries and addresses) and
    routes with protocol gatepeer through those links. Look-alikes (a gatepeer: alias on
    another kind of device or naming another device, protocol gatepeer through another
    device) are reported as warnings and left alone, as is everything else. Sysctls are
    left as they are. What down changed is read back: exit 1 names what is still there.
    """,
]

struct Options {
    var command: String
    var configPath = defaultConfigPath
    var json = false
    var help = false
    var positional: [String] = []
    var resync = 30
}

func parseArguments(_ args: [String]) throws -> Options {
    guard let first = args.first else { throw UsageError(message: "no command given") }
    if first == "-h" || first == "--help" || first == "help" {
        return Options(command: args.dropFirst().first ?? "", help: true)
    }
    if first == "--version" { return Options(command: "version") }
    guard commandUsage[first] != nil else { throw UsageError(message: "unknown command \(Echo.quoted(first))") }
    var o = Options(command: first)
    var configGiven: String? = nil
    func setConfig(_ path: String) throws {
        if let c = configGiven { throw UsageError(message: OptionProblem.repeatedMessage("-c/--config", c, path)) }
        configGiven = path
        o.configPath = path
    }
    var resyncGiven: String? = nil
    var i = 1
    while i < args.count {
        let a = args[i]
        switch a {
        case "-c", "--config":
            guard i + 1 < args.count else { throw UsageError(message: "\(a) needs a file name") }
            try setConfig(args[i + 1])
            i += 1
        case "--json":
            guard ["plan", "status", "apply", "down", "filter"].contains(first) else {
                throw UsageError(message: "\(first) has no --json output")
            }
            o.json = true
        case "-h", "--help":
            o.help = true
        case "--resync":
            guard first == "run", i + 1 < args.count, let n = DecimalText.parse(args[i + 1], in: 1...3600) else {
                throw UsageError(message: "--resync needs a number of seconds 1..3600 (run only)")
            }
            if let r = resyncGiven { throw UsageError(message: OptionProblem.repeatedMessage("--resync", r, args[i + 1])) }
            resyncGiven = args[i + 1]
            o.resync = n
            i += 1
        default:
            if a.hasPrefix("--config=") { try setConfig(String(a.dropFirst("--config=".count))) } else if first == "filter" || first == "ipsec" {
                o.positional.append(a)  // the filter and ipsec subcommands parse their own flags
            } else if a.hasPrefix("-") && a.count > 1 {
                throw UsageError(message: "unknown option \(Echo.quoted(a)) for \(first)")
            } else if first == "filter" {
                o.positional.append(a)
            } else {
                throw UsageError(message: "\(first) takes no argument \(Echo.quoted(a))")
            }
        }
        i += 1
    }
    return o
}

/// Progress and problems; stdout is flushed first so the two streams stay in order on a
/// terminal. Through Echo.text: a message echoing input cannot put raw control
/// characters or an unbounded line on the operator's terminal.
func stderr(_ s: String) {
    fflush(nil)  // all output streams
    FileHandle.standardError.write((Echo.text(s) + "\n").data(using: .utf8)!)
}

/// Loads and validates; on bad input prints every problem and exits 2 before any kernel access.
/// `beforeExit`: run with the file's bytes after the problems of a config that does not
/// decode are printed, before the exit (`ipsec lint` checks key files there).
func loadConfig(_ path: String, beforeExit: (([UInt8]) -> Void)? = nil) -> GatePeerConfig {
    // Before the first large allocation, which the file itself is.
    if let size = Files.size(path), size > 1 << 20 { Memory.prepareForLargeInput() }
    let data: [UInt8]
    switch Files.read(path, limit: Files.configLimit) {
    case .success(let d): data = d
    case .failure(let e):
        stderr("gatepeer: cannot read config \(Echo.path(e.path)): \(e.reason)")
        exit(Exit.usage.rawValue)
    }
    // Strings are checked as UTF-8 where they are parsed; the error names the line.
    switch ConfigDecoder.decode(bytes: data) {
    case .success(let c): return c
    case .failure(let e):
        stderr("gatepeer: \(Echo.path(path)): \(e.count) problem(s):")
        for line in e.report(indent: "  ") { stderr(line) }
        beforeExit?(data)
        exit(Exit.usage.rawValue)
    }
}

/// Whether this process holds CAP_NET_ADMIN (capability 12, linux/capability.h) in its
/// effective set, from CapEff in /proc/self/status; nil when that cannot be read.
func hasNetAdmin() -> Bool? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
          let bits = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
    return bits & (1 << 12) != 0
}

/// What to do about a missing CAP_NET_ADMIN, with the "gatepeer: " prefix: said once, at
/// startup or at the first EPERM. "Over this network namespace": a process can show the
/// capability in CapEff (a user namespace of its own) and still lack it where it counts.
func netAdminHint(_ verb: String) -> String {
    "gatepeer: \(verb) needs CAP_NET_ADMIN over this network namespace (its links, routes, FDB entries and nftables, reading them included), which this process does not have; run it as root, or as the shipped gatepeer.service (AmbientCapabilities=CAP_NET_ADMIN)"
}

/// Exits 1 with `netAdminHint` when the capability is missing: without it every kernel
/// call answers EPERM, which the daemon would otherwise log at every resync forever.
func requireNetAdmin(_ verb: String) {
    if hasNetAdmin() == false {
        stderr(netAdminHint(verb))
        exit(Exit.runtime.rawValue)
    }
}

/// The hint instead of a bare "Operation not permitted" when the kernel said EPERM.
func describeKernelFailure(_ error: Error, verb: String) -> String {
    if let k = error as? KernelError, k.errno == EPERM { return "gatepeer: \(error)\n\(netAdminHint(verb))" }
    return "gatepeer: \(error)"
}

func openKernel(_ verb: String) -> Kernel {
    requireNetAdmin(verb)
    do {
        return try Kernel()
    } catch {
        stderr("gatepeer: \(error)")
        exit(Exit.runtime.rawValue)
    }
}

func printPlan(_ plan: Plan, json: Bool) {
    if json {
        print(JSONOut.object(["changes": .array(plan.changes.map { .object($0.json) }),
                              "blockers": .array(plan.blockers.map { .string($0) }),
                              "warnings": .array(plan.warnings.map { .string($0) })]).render())
    } else if plan.changes.isEmpty {
        // A blocked link's changes are not planned: "no changes" alone would read as converged.
        print(plan.blockers.isEmpty ? "no changes" : "no changes (\(plan.blockers.count) blocked: see stderr)")
    } else {
        for c in plan.changes { print(Echo.line(c.line)) }  // names read from the kernel
    }
    for b in plan.blockers { stderr("blocked: \(b)") }
    for w in plan.warnings { stderr("warning: \(w)") }
}

func run(_ o: Options) -> Exit {
    do {
        try Settings.check()
    } catch {
        stderr("gatepeer: \(error)")
        return .usage
    }
    switch o.command {
    case "validate":
        let c = loadConfig(o.configPath)
        print("\(Echo.path(o.configPath)): valid, \(c.links.count) link(s)")
        return .ok

    case "plan", "apply", "down":
        let config = o.command == "down" ? GatePeerConfig(forwarding: false, links: []) : loadConfig(o.configPath)
        let kernel = openKernel(o.command)
        // One writer per network namespace: observe, plan, load and read back, with the
        // grants and learned addresses read under the same lock, so nothing lands between.
        let store = StateStore.open()
        guard let lock = lockNamespace(o.command, store) else { return .runtime }
        defer { withExtendedLifetime(lock) {} }
        kernel.filterReadCache = store.filterReadCache
        do {
            if o.command == "plan" {
                let observed = try kernel.observe(sysctls: Planner.sysctlKeys(for: config))
                let plan = Planner.plan(config: config, observed: observed, dynamic: store.dynamicElements(config, observed: observed))
                printPlan(plan, json: o.json)
                // State that could not be read makes "no changes" no promise: an apply would fail too.
                if let m = store.stateProblem(keptDynamic: config.filter != nil, verb: "are planned") {
                    stderr("gatepeer: plan: \(m)")
                    return .runtime
                }
                return plan.blockers.isEmpty ? .ok : .runtime
            }
            if o.command == "apply" && store.refusal == nil { try store.claim() }
            let c = try Converge.run(kernel, config: config, mapCache: store.mapCache, dynamic: { store.dynamicElements(config, observed: $0) })
            if o.json {
                print(JSONOut.object([
                    "changes": .array(c.plan.changes.map { .object($0.json) }),
                    "failures": .array(c.problems.map { .string($0) }),
                    "blockers": .array(c.plan.blockers.map { .string($0) }),
                    "warnings": .array(c.plan.warnings.map { .string($0) }),
                    "applied": .int(Int64(c.readBack.applied)),
                ]).render())
            } else {
                for ch in c.plan.changes { print(Echo.line(ch.line)) }
            }
            for p in c.problems { stderr("gatepeer: \(p)") }
            if c.failures.contains(where: { $0.errno == EPERM }) { stderr(netAdminHint(o.command)) }
            for b in c.plan.blockers { stderr("blocked: \(b)") }
            for w in c.plan.warnings { stderr("warning: \(w)") }
            if !o.json {
                stderr("gatepeer: \(o.command): \(c.readBack.applied) of \(c.plan.changes.count) change(s) applied")
            }
            // The kernel holds the config, but the state it must carry could not be read:
            // not success, so the user repairs the state and applies again.
            if let m = store.stateProblem(keptDynamic: config.filter != nil) {
                stderr("gatepeer: \(o.command): \(m)")
                return .runtime
            }
            return c.converged ? .ok : .runtime
        } catch {
            stderr(describeKernelFailure(error, verb: o.command))
            return .runtime
        }

    case "filter":
        return runFilter(o)

    case "ipsec":
        return runIPsec(o)

    case "run":
        let config = loadConfig(o.configPath)
        requireNetAdmin("run")
        do {
            try Daemon(configPath: o.configPath, config: config, resync: o.resync).run()
        } catch {
            stderr(describeKernelFailure(error, verb: "run"))
            return .runtime
        }

    case "status":
        let config = loadConfig(o.configPath)
        let kernel = openKernel(o.command)
        // No lock: status only reads, and must answer while a long load runs.
        let store = StateStore.open()
        kernel.filterReadCache = store.filterReadCache
        do {
            let observed = try kernel.observe(sysctls: Planner.sysctlKeys(for: config))
            let plan = Planner.plan(config: config, observed: observed, dynamic: store.dynamicElements(config, observed: observed))
            var report = StatusReport(config: config, observed: observed, plan: plan)
            if plan.ruleset != nil {
                var elements: [Int: [(IPAddress, PacketCount)]] = [:]
                if let f = config.filter, observed.filter != nil {
                    // The maps the kernel holds, sharded or not, whatever this config renders.
                    let counted = (try? kernel.mapElementCounters { IntervalMap.destinationGroup(ofMap: $0) != nil }) ?? [:]
                    for (name, list) in counted {
                        guard let gi = IntervalMap.destinationGroup(ofMap: name), f.outbound.indices.contains(gi) else { continue }
                        elements[gi, default: []] += list
                    }
                }
                report.filter = FilterStatus(config: config, observed: observed, ruleset: plan.ruleset, elements: elements, pending: plan.changes)
            }
            // Names and aliases read from the kernel are anyone's input.
            print(o.json ? report.json.render() : Echo.text(report.text))
            return .ok
        } catch {
            stderr(describeKernelFailure(error, verb: o.command))
            return .runtime
        }

    case "version":
        print("gatepeer 0.1.0")
        return .ok

    default:
        return .usage
    }
}

func runFilter(_ o: Options) -> Exit {
    guard let sub = o.positional.first else {
        stderr("gatepeer: filter needs a subcommand: check or show")
        return .usage
    }
    // --json is read for the whole command line; only check and grants have such output.
    if o.json, ["show", "grant", "revoke"].contains(sub) {
        stderr("gatepeer: filter \(Echo.value(sub)) has no --json output; valid: filter check --json, filter grants --json")
        return .usage
    }
    switch sub {
    case "show":
        guard o.positional.count == 1 else { stderr("gatepeer: filter show takes no argument"); return .usage }
        let config = loadConfig(o.configPath)
        // MTUs come from the underlay when the config leaves them out: read it if we can.
        let observed = (try? Kernel().observe(sysctls: [])) ?? ObservedState()
        // The plan's table: what apply would load, blocked links' running tunnels included.
        guard let rs = Planner.plan(config: config, observed: observed).ruleset else {
            stderr("gatepeer: \(Echo.path(o.configPath)) has no links and no filter section; gatepeer keeps no nftables table")
            return .ok
        }
        print(rs.fullText, terminator: "")
        return .ok
    case "check":
        let args = Array(o.positional.dropFirst())
        if args.count == 3, case .success(let (pr?, nil)) = FilterCheck.parseProtocol(args[2]), ProtocolMatch.number(pr).carriesPorts {
            stderr("gatepeer: give a port, such as \(Echo.value(args[2]))/443: the verdict can depend on it")
            return .usage
        }
        if args.count == 3, args[2].hasSuffix("/"), case .success(let (pr?, nil)) = FilterCheck.parseProtocol(String(args[2].dropLast())),
           ProtocolMatch.number(pr).carriesPorts {
            stderr("gatepeer: \(Echo.quoted(args[2])) has no port after the slash; valid: such as \(Echo.value(String(args[2].dropLast())))/443")
            return .usage
        }
        guard args.count == 2 || args.count == 3 else {
            stderr("gatepeer: usage: gatepeer filter check SRC DST [PROTO[/PORT]]")
            return .usage
        }
        guard let src = IPAddress(args[0]) else { stderr("gatepeer: SRC \(Echo.quoted(args[0])) is not an IP address"); return .usage }
        guard let dst = IPAddress(args[1]) else { stderr("gatepeer: DST \(Echo.quoted(args[1])) is not an IP address"); return .usage }
        // A mapped address would be checked against the IPv6 policy, which the kernel never
        // applies to it: the packet is IPv4.
        for (name, a) in [("SRC", src), ("DST", dst)] {
            if let why = AddressField.filterMatch.problem(a, text: "\(a)") { stderr("gatepeer: \(name): \(why)"); return .usage }
        }
        var proto: UInt8? = nil, port: UInt16? = nil
        if args.count == 3 {
            switch FilterCheck.parseProtocol(args[2]) {
            case .success(let (pr, po)): proto = pr; port = po
            case .failure:
                stderr("gatepeer: \(Echo.quoted(args[2])) is not PROTO[/PORT]; valid: tcp/443, udp/123, icmp, icmpv6, 47, any")
                return .usage
            }
        }
        let config = loadConfig(o.configPath)
        let store = StateStore.open()
        let grants = store.loadGrantsIfKnown()
        let v = FilterCheck.check(config, source: src, destination: dst, proto: proto, port: port,
                                  learned: store.loadLearned(), grants: grants ?? [], now: now())
        // Grants and learned addresses only add allows, so unreadable state leaves an allow
        // standing but makes a deny unknown: the kernel may hold a grant for this packet.
        let problem = v.allowed || config.filter == nil ? nil : store.stateProblem(keptDynamic: true, verb: "stay")
        let verdict = problem != nil ? "unknown" : v.allowed ? "allow" : "deny"
        let reason = problem.map { "\(v.reason), unless the kernel holds a grant or learned address for it: \($0)" } ?? v.reason
        if o.json {
            print(JSONOut.object(["verdict": .string(verdict), "reason": .string(reason)]).render())
        } else {
            print(Echo.line("\(verdict): \(reason)"))  // rule names are the config's
        }
        return problem == nil ? .ok : .runtime
    case "grant", "revoke":
        return runGrant(o, revoke: sub == "revoke")
    case "grants":
        let n = now()
        let active: [Grant]
        do { active = try GrantStore().active(now: n) } catch {
            stderr("gatepeer: \(error.message)")
            return error.exit
        }
        if o.json {
            print(JSONOut.array(active.map { .object(["grant": .string($0.summary), "expires": .int($0.expires), "remainingSeconds": .int($0.expires - n)]) }).render())
        } else if active.isEmpty {
            print("no active grants")
        } else {
            for g in active { print("\(g.summary)  expires in \(Grant.formatDuration(g.expires - n))") }
        }
        return .ok
    default:
        stderr("gatepeer: unknown filter subcommand \(Echo.quoted(sub)); valid: check, show, grant, revoke, grants")
        return .usage
    }
}

func now() -> Int64 { Int64(Date().timeIntervalSince1970) }
/// Milliseconds since the epoch, for element timeouts that end exactly at a deadline.
func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

/// filter grant|revoke --from PREFIX --to PREFIX [--proto P] [--port N[,M-K]] [--for DURATION]
func runGrant(_ o: Options, revoke: Bool) -> Exit {
    let fields: [String: String]
    switch optionPairs(Array(o.positional.dropFirst()), allowed: ["--from", "--to", "--proto", "--port", "--for"]) {
    case .success(let f): fields = f
    case .failure(.unexpected(let flag)):
        stderr("gatepeer: filter \(revoke ? "revoke" : "grant"): unexpected \(Echo.quoted(flag)); valid: --from PREFIX --to PREFIX [--proto tcp] [--port 443] \(revoke ? "" : "--for 2h")")
        return .usage
    case .failure(.repeated(let flag, let a, let b)):
        stderr("gatepeer: filter \(revoke ? "revoke" : "grant"): " + OptionProblem.repeatedMessage(flag, a, b))
        return .usage
    }
    var problems: [String] = []
    func prefix(_ key: String) -> IPPrefix? {
        guard let t = fields[key] else { problems.append("\(key): is required; valid: a prefix such as 10.128.0.0/16 or an address"); return nil }
        switch IPPrefix.parse(t, bareAddressIsHost: true) {
        case .success(let p) where !p.hasHostBits:
            if let why = AddressField.filterMatch.problem(p, text: t) { problems.append("\(key): \(why)"); return nil }
            return p
        case .success(let p):
            problems.append("\(key): " + AddressField.filterMatch.hostBitsProblem(p, text: Echo.value(t))!); return nil
        case .failure: problems.append("\(key): \(Echo.quoted(t)) is not a prefix or address"); return nil
        }
    }
    let from = prefix("--from"), to = prefix("--to")
    var proto = ProtocolMatch.any
    if let p = fields["--proto"] {
        if let m = ProtocolMatch.parse(p) { proto = m } else {
            problems.append("--proto: \(Echo.quoted(p)) is not a protocol; valid: tcp, udp, icmp, icmpv6, sctp, or 0..255")
        }
    }
    var ports: [PortRange] = []
    if let p = fields["--port"] {
        for part in p.split(separator: ",") {
            if let r = PortRange.parse(part) {
                ports.append(r)
            } else {
                problems.append("--port: \(Echo.quoted(String(part))) is not a port or range; valid: 1..65535 or LOW-HIGH, comma-separated")
            }
        }
        if !proto.carriesPorts { problems.append("--port: needs --proto tcp, udp, sctp, dccp or udplite") }
        for (i, a) in ports.enumerated() {
            for b in ports[..<i] where a.low <= b.high && b.low <= a.high {
                problems.append("--port: \(b.portText) and \(a.portText) overlap; list each port once")
            }
        }
    }
    var seconds: Int64 = 0
    if !revoke {
        if let d = fields["--for"] {
            if let s = Grant.parseDuration(d) { seconds = s } else { problems.append("--for: \(Echo.quoted(d)) is not a duration; valid: 90s, 30m, 2h, 1d, 1h30m (each unit once, largest first, a later one below the one before: 1h59m, not 1h60m; no sign or leading zero; at most 366d)") }
        } else { problems.append("--for: is required; valid: a duration such as 2h") }
    } else if fields["--for"] != nil {
        problems.append("--for: revoke takes no duration")
    }
    if let from, let to, from.family != to.family { problems.append("--to: \(to) and --from \(from) are of different families") }
    if !problems.isEmpty {
        for p in problems { stderr("gatepeer: filter \(revoke ? "revoke" : "grant"): \(p)") }
        return .usage
    }
    let config = loadConfig(o.configPath)
    guard config.filter != nil else {
        stderr("gatepeer: \(Echo.path(o.configPath)) has no filter section; grants need one")
        return .usage
    }
    // The deadline is the next whole second plus the duration: never shorter than asked,
    // at most a second longer, and the kernel drops the element at that very second.
    let ms = nowMs(), n = ms / 1000
    let grant = Grant(from: from!, to: to!, protocolMatch: proto, ports: ports, expires: (ms + 999) / 1000 + seconds)
    let verb = revoke ? "filter revoke" : "filter grant"
    do {
        let store = GrantStore(), kernel = { openKernel(verb) }
        print(revoke ? try store.revoke(grant, now: n, kernel: kernel) : try store.grant(grant, seconds: seconds, now: n, kernel: kernel))
        return .ok
    } catch let r as GrantRefusal {
        stderr("gatepeer: \(r.message)")
        return r.exit
    } catch {
        stderr(describeKernelFailure(error, verb: verb))
        return .runtime
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    let options = try parseArguments(arguments)
    if options.help {
        print(commandUsage[options.command] ?? topUsage)
        exit(Exit.ok.rawValue)
    }
    exit(run(options).rawValue)
} catch let e as UsageError {
    stderr("gatepeer: \(e.message)")
    stderr(topUsage)
    exit(Exit.usage.rawValue)
}

