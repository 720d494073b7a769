import GatePeerCore

/// `gatepeer filter check SRC DST [PROTO[/PORT]]`: the verdict for one packet and the rule
/// deciding it, on the policy apply loads, with the grants and learned addresses of the
/// state directory. Reads no kernel state.
enum FilterCheckCommand: GatePeerCommand {
    static let words = ["filter", "check"]
    static let options: [OptionSpec] = [.config, .json]
    static let takesArguments = true

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        let args = c.arguments
        if args.count == 3, case .success(let (pr?, nil)) = FilterCheck.parseProtocol(args[2]), ProtocolMatch.number(pr).carriesPorts {
            throw UsageError(message: "give a port, such as \(Echo.value(args[2]))/443: the verdict can depend on it")
        }
        if args.count == 3, args[2].hasSuffix("/"), case .success(let (pr?, nil)) = FilterCheck.parseProtocol(String(args[2].dropLast())),
           ProtocolMatch.number(pr).carriesPorts {
            throw UsageError(message: "\(Echo.quoted(args[2])) has no port after the slash; valid: such as \(Echo.value(String(args[2].dropLast())))/443")
        }
        // Name what is missing or extra; the usage line alone left the operator to count.
        let usage = "usage: gatepeer filter check SRC DST [PROTO[/PORT]]"
        if args.count < 2 {
            throw UsageError(message: "filter check: \(args.isEmpty ? "SRC and DST are" : "DST is") missing\n\(usage)")
        }
        if args.count > 3 {
            let extra = args[3...].map { Echo.quoted($0) }.joined(separator: " ")
            throw UsageError(message: "filter check: extra argument\(args.count > 4 ? "s" : "") \(extra) after PROTO[/PORT] \(Echo.quoted(args[2]))\n\(usage)")
        }
        guard let src = IPAddress(args[0]) else { throw UsageError(message: "SRC \(Echo.quoted(args[0])) is not an IP address") }
        guard let dst = IPAddress(args[1]) else { throw UsageError(message: "DST \(Echo.quoted(args[1])) is not an IP address") }
        // A mapped address would be checked against the IPv6 policy, which the kernel never
        // applies to it: the packet is IPv4.
        for (name, a) in [("SRC", src), ("DST", dst)] {
            if let why = AddressField.filterMatch.problem(a, text: "\(a)") { throw UsageError(message: "\(name): \(why)") }
        }
        var proto: UInt8? = nil, port: UInt16? = nil
        if args.count == 3 {
            switch FilterCheck.parseProtocol(args[2]) {
            case .success(let (pr, po)): proto = pr; port = po
            case .failure:
                throw UsageError(message: "\(Echo.quoted(args[2])) is not PROTO[/PORT]; valid: tcp/443, udp/123, icmp, icmpv6, 47, any")
            }
        }
        let config = c.loadConfig()
        let store = StateStore.open()
        let grants = store.loadGrantsIfKnown()
        let v = FilterCheck.check(config, source: src, destination: dst, proto: proto, port: port,
                                  learned: store.loadLearned(), grants: grants ?? [], now: WallClock.seconds())
        // Grants and learned addresses only add allows, so unreadable state leaves an allow
        // standing but makes a deny unknown: the kernel may hold a grant for this packet.
        let problem = v.allowed || config.filter == nil ? nil : store.stateProblem(keptDynamic: true, verb: "stay")
        let verdict = problem != nil ? "unknown" : v.allowed ? "allow" : "deny"
        let reason = problem.map { "\(v.reason), unless the kernel holds a grant or learned address for it: \($0)" } ?? v.reason
        if c.json {
            print(JSONOut.object(["verdict": .string(verdict), "reason": .string(reason)]).render())
        } else {
            print(Echo.line("\(verdict): \(reason)"))  // rule names are the config's
        }
        return problem == nil ? .ok : .runtime
    }
}
