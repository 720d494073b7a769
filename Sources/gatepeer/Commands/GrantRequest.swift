import GatePeerCore
import GatePeerKernel

/// What `filter grant` and `filter revoke` were asked: the grant's scope (--from, --to,
/// --proto, --port) and, for a grant, its duration (--for), checked together so every
/// problem is reported in one run; GrantStore then does the work.
struct GrantRequest {
    /// "grant" or "revoke", for messages.
    let verb: String
    /// The grant, its deadline the next whole second plus the duration (a revoke's is unused).
    let grant: Grant
    /// --for in seconds (0 for a revoke).
    let seconds: Int64
    /// When the request was read (Unix seconds): grants expired by then are dropped.
    let now: Int64

    /// Reads the options; throws every problem (naming the option and what is valid), one
    /// per line. The config is read only once the options are good.
    static func read(_ c: CommandContext, revoke: Bool) throws(UsageError) -> GrantRequest {
        let verb = revoke ? "revoke" : "grant"
        let given = c.invocation
        var problems: [String] = []
        func prefix(_ option: OptionSpec) -> IPPrefix? {
            let key = option.long
            guard let t = given.value(option) else { problems.append("\(key): is required; valid: a prefix such as 10.128.0.0/16 or an address"); return nil }
            switch IPPrefix.parse(t, bareAddressIsHost: true) {
            case .success(let p) where !p.hasHostBits:
                if let why = AddressField.filterMatch.problem(p, text: t) { problems.append("\(key): \(why)"); return nil }
                return p
            case .success(let p):
                problems.append("\(key): " + AddressField.filterMatch.hostBitsProblem(p, text: Echo.value(t))!); return nil
            case .failure: problems.append("\(key): \(Echo.quoted(t)) is not a prefix or address"); return nil
            }
        }
        let from = prefix(.from), to = prefix(.to)
        var proto = ProtocolMatch.any
        if let p = given.value(.proto) {
            if let m = ProtocolMatch.parse(p) { proto = m } else {
                problems.append("--proto: \(Echo.quoted(p)) is not a protocol; valid: tcp, udp, icmp, icmpv6, sctp, or 0..255")
            }
        }
        var ports: [PortRange] = []
        if let p = given.value(.port) {
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
            if let d = given.value(.duration) {
                if let s = Grant.parseDuration(d) { seconds = s } else { problems.append("--for: \(Echo.quoted(d)) is not a duration; valid: 90s, 30m, 2h, 1d, 1h30m (each unit once, largest first, a later one below the one before: 1h59m, not 1h60m; no sign or leading zero; at most 366d)") }
            } else { problems.append("--for: is required; valid: a duration such as 2h") }
        } else if given.value(.duration) != nil {
            problems.append("--for: revoke takes no duration")
        }
        if let from, let to, from.family != to.family { problems.append("--to: \(to) and --from \(from) are of different families") }
        if !problems.isEmpty {
            throw UsageError(message: problems.map { "filter \(verb): \($0)" }.joined(separator: "\n"))
        }
        // The deadline is the next whole second plus the duration: never shorter than asked,
        // at most a second longer, and the kernel drops the element at that very second.
        let ms = WallClock.milliseconds()
        return GrantRequest(verb: verb, grant: Grant(from: from!, to: to!, protocolMatch: proto, ports: ports, expires: (ms + 999) / 1000 + seconds),
                            seconds: seconds, now: ms / 1000)
    }

    /// Checks the config has a filter section (grants need one: exit 2), then lets `body`
    /// grant or revoke through GrantStore (under the namespace's writer lock, the kernel
    /// opened by the closure it is given once the state is known to be usable) and prints
    /// the line it returns. A GrantRefusal ends the command with its message and status;
    /// a kernel or state failure with exit 1, naming it.
    func perform(_ c: CommandContext, _ body: (GrantStore, _ kernel: () -> Kernel) throws -> String) -> Exit {
        let config = c.loadConfig()
        guard config.filter != nil else {
            Console.error("gatepeer: \(Echo.path(c.configPath)) has no filter section; grants need one")
            return .usage
        }
        do {
            print(try body(GrantStore(), { c.openKernel("filter \(verb)") }))
            return .ok
        } catch let r as GrantRefusal {
            Console.error("gatepeer: \(r.message)")
            return r.exit
        } catch {
            Console.error(NetAdmin.describe(error, verb: "filter \(verb)"))
            return .runtime
        }
    }
}
