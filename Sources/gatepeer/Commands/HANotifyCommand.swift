import GatePeerCore
import GatePeerKernel
import Glibc

/// `gatepeer ha notify STATE` (or keepalived's `TYPE NAME STATE PRIORITY`): carries out
/// HANotifyPlan's steps for the new state, each logged as a key=value line on stderr
/// (the journal, under keepalived's unit). The notification is recorded first, in the
/// state directory's ha-state.json (StateStore.saveHAState, read by `gatepeer status`),
/// so readers see the new state before the slow steps (conntrackd, the hook). Exit 0 when every step worked, 1 when one
/// failed (the others still run), 2 for bad arguments or a config without `ha`.
enum HANotifyCommand: GatePeerCommand {
    static let words = ["ha", "notify"]
    static let options: [OptionSpec] = [.config]
    static let takesArguments = true

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        let n: HAState.Notification
        do {
            n = try HAState.parse(c.arguments)
        } catch {
            throw UsageError(message: "ha notify: \(error.message)", usage: Usage.haNotify)
        }
        let s = HASection(c, verb: "ha notify")
        // keepalived gives its scripts /dev/null for stdout and stderr: the lines go to
        // ha-notify.log in the state directory too (and to syslog, see Journal).
        // One store for the log and the record (one namespace lookup, one identity read).
        let store: StateStore?
        do { store = StateStore(namespace: try NetworkNamespace.current()) } catch {
            store = nil
            log(.error, "no state directory: \(error)", fields: [("object", "ha-state")])
        }
        if let store {
            do { Journal.copyFD = try store.openHANotifyLog() } catch {
                log(.warning, "no ha-notify.log: \(error)", fields: [("object", "ha-state")])
            }
        }
        var fields: [(String, String)] = [("state", n.state.rawValue)]
        if let t = n.type, let name = n.name { fields += [("type", t.lowercased()), ("name", name)] }
        if let p = n.priority { fields.append(("priority", "\(p)")) }
        log(.info, "ha notify", fields: fields)
        // A master that heard a lower priority stays MASTER: its record (and since when) stands.
        var failed = n.state == .masterReclaim ? false : !record(n, store)
        var observed: ObservedState?
        for step in HANotifyPlan.steps(s.config, s.ha, n.state) {
            switch step {
            case .conntrackd(let args):
                failed = !runChild("conntrackd", args, timeout: 30, object: "conntrackd", state: n.state) || failed
            case .announce(let a):
                if observed == nil {
                    do { observed = try Kernel().observe(sysctls: []) } catch {
                        log(.error, "cannot read the kernel to announce the moved addresses: \(error)", fields: [("object", "address"), ("state", n.state.rawValue)])
                        failed = true
                        observed = ObservedState()
                    }
                }
                failed = !announce(a, observed!, state: n.state) || failed
            case .hook(let path, let state, let timeout):
                setenv("GATEPEER_HA_STATE", state, 1)
                setenv("GATEPEER_HA_OUTER_ADDRESSES", s.config.links.map { "\($0.outerIpAddress)" }.joined(separator: " "), 1)
                setenv("GATEPEER_HA_INTERFACE", s.ha.interface, 1)
                failed = !runChild(path, [state], timeout: Double(timeout), object: "hook", state: n.state) || failed
            }
        }
        return failed ? .runtime : .ok
    }

    /// Records `n` in ha-state.json; logs and returns false when it cannot.
    private static func record(_ n: HAState.Notification, _ store: StateStore?) -> Bool {
        guard let store else { return false }
        do {
            try store.saveHAState(HAState.Record(n, unixTime: Clock.now()))
            return true
        } catch {
            log(.error, "cannot record the state: \(error)", fields: [("object", "ha-state"), ("state", n.state.rawValue)])
            return false
        }
    }

    /// Announces `a` when it is on its device (keepalived added it); one log line either way.
    private static func announce(_ a: HAConfig.VirtualAddress, _ observed: ObservedState, state: HAState) -> Bool {
        let f = [("object", "address"), ("change", "announce \(a.prefix.address) dev \(a.device)"), ("state", state.rawValue)]
        guard let dev = observed.link(named: a.device), let mac = dev.mac,
              observed.addresses.contains(where: { $0.linkIndex == dev.index && $0.prefix.address == a.prefix.address }) else {
            log(.warning, "not announced: the address is not on its device (keepalived adds it before notifying)", fields: f)
            return false
        }
        do {
            try AddressAnnouncer.announce(a.prefix.address, device: a.device, index: dev.index, mac: mac)
            log(.info, a.prefix.family == .v4 ? "gratuitous ARP sent" : "unsolicited neighbour advertisement sent", fields: f)
            return true
        } catch {
            log(.error, "announce failed: \(error)", fields: f)
            return false
        }
    }

    /// Runs `program args` with a deadline; logs its exit (info when 0, warning otherwise).
    private static func runChild(_ program: String, _ args: [String], timeout: Double, object: String, state: HAState) -> Bool {
        let f = [("object", object), ("change", ([program] + args).joined(separator: " ")), ("state", state.rawValue)]
        do {
            guard let status = try Child.run(program, args, timeout: timeout) else {
                log(.warning, "killed after \(Int(timeout)) s", fields: f + [("exit", "timeout")])
                return false
            }
            let ok = status.exitCode == 0
            log(ok ? .info : .warning, "\(object) \(status)", fields: f + [("exit", "\(status.shellCode)")])
            return ok
        } catch {
            log(.error, "\(object) could not run: \(error)", fields: f)
            return false
        }
    }
}
