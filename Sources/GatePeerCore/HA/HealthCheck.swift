/// `gatepeer health`'s judgement, pure: whether this node can carry the VPG links now.
/// keepalived runs it as its `vrrp_script`; exit 0 healthy, non-zero with one line why.
///
/// Healthy means, in order:
/// 1. a live `gatepeer run` manages the namespace (its runtime report is fresh: the same
///    rules as `status`); without one nothing repairs drift or probes the gate peers;
/// 2. the kernel holds the config: no blocker (with `ha`, the standby's missing outer
///    address is no blocker, Planner), every link exists (one deleted by hand is named)
///    and no change is pending;
/// 3. per link, at least one VPG gate peer is `up` in the daemon's report (a link
///    without liveness has nothing to judge by and passes; `ha` refuses such links). With `ha`
///    two exceptions, because liveness probes travel through the tunnel, which only the
///    master can use (its source, the outer address, is the master's):
///    - the *standby* (the link's outer address is not on the underlay) cannot probe:
///      its peers are not judged, so a standby stays ready to take over;
///    - a node *taking over* (the outer address was added less than the time liveness
///      needs to judge a peer up ago: `rise` x `intervalMs` + `timeoutMs`) is not failed
///      for peers that are not up yet, or every takeover would fault itself.
public enum HealthCheck {
    /// What the namespace's daemon said (RuntimeReading, without the executable's types).
    public enum Daemon: Sendable {
        /// No `gatepeer run` holds the namespace.
        case none
        /// Its fresh report.
        case live(RuntimeReport)
        /// It runs but its report cannot be believed: why, as `status` says it.
        case unbelievable(String)
    }

    /// The outcome: healthy or not, and the one line saying why.
    public struct Verdict: Equatable, Sendable {
        /// Exit 0 when true.
        public var healthy: Bool
        /// "healthy: ..." or "not healthy: ...".
        public var line: String
    }

    /// The verdict for `config` given what the kernel holds (`observed`), the plan from it,
    /// the daemon's report and, per link, how many seconds its outer address has been on
    /// the underlay (`heldSeconds`: nil when not held or unknown), and how many seconds ago
    /// this node's keepalived reported FAULT when that is the state it last reported
    /// (`faultSeconds`, from ha-state.json; nil otherwise), for `ha.health.holdDownSeconds`.
    public static func judge(config: GatePeerConfig, observed: ObservedState, plan: Plan, daemon: Daemon,
                             faultSeconds: Double? = nil, heldSeconds: (VPGLink) -> Double?) -> Verdict {
        func bad(_ s: String) -> Verdict { Verdict(healthy: false, line: "not healthy: " + s) }
        let report: RuntimeReport
        switch daemon {
        case .none: return bad("no gatepeer run manages this network namespace, so nothing keeps the links converged or probes the VPG gate peers")
        case .unbelievable(let why): return bad(why)
        case .live(let r): report = r
        }
        if let hold = config.ha?.health.holdDownSeconds, hold > 0, let f = faultSeconds, f >= 0, f < Double(hold) {
            return bad("held down: keepalived reported FAULT \(tenths(f)) s ago; ha.health.holdDownSeconds keeps this node out for \(hold) s after a fault (\(tenths(Double(hold) - f)) s left)")
        }
        if let b = plan.blockers.first {
            return bad("blocked: \(b)\(plan.blockers.count > 1 ? " (and \(plan.blockers.count - 1) more)" : "")")
        }
        // A link deleted by hand: named as such (its pending changes start with a long
        // `+ link` line that does not say the device is gone).
        let missing = config.links.filter { observed.link(named: $0.name) == nil }.map(\.name)
        if !missing.isEmpty {
            let which = missing.count == 1 ? "link \(missing[0]) does not exist" : "links \(missing.joined(separator: ", ")) do not exist"
            return bad("\(which) (\(plan.changes.count) change(s) pending)")
        }
        if let c = plan.changes.first {
            return bad("\(plan.changes.count) change(s) pending, first: \(c.line)")
        }
        var parts: [String] = []
        for l in config.links {
            if let why = report.livenessProblems[l.name] { return bad("link \(l.name): peers not probed: \(why)") }
            let underlay = observed.link(named: l.underlayDevice)
            // A node that cannot send on its underlay carries nothing, standby or not
            // (keepalived faults on it; a standby must not call itself healthy then).
            if let u = underlay, !u.isUp || ["DOWN", "LOWERLAYERDOWN", "NOTPRESENT"].contains(u.operState.uppercased()) {
                return bad("link \(l.name): underlay \(l.underlayDevice) is down (\(u.isUp ? "operstate \(u.operState)" : "administratively down")): this node cannot carry the link")
            }
            if config.ha != nil, !HAStandby.holdsOuterAddress(l, observed) {
                parts.append("\(l.name) standby (outer address \(l.outerIpAddress) not on \(l.underlayDevice); peers are judged by the master)")
                continue
            }
            // Nothing to judge by (only possible without ha, whose validation refuses it).
            if !l.liveness.enabled || !l.peers.contains(where: { $0.probeTarget != nil }) {
                parts.append("\(l.name) peers not probed (no liveness)")
                continue
            }
            let peers = report.peers.filter { $0.link == l.name }
            let up = peers.filter { $0.state == .up }.count
            if up > 0 {
                parts.append("\(l.name) \(config.ha != nil ? "master, " : "")\(up)/\(peers.count) peers up")
                continue
            }
            let grace = Double(l.liveness.rise * l.liveness.intervalMs + l.liveness.timeoutMs) / 1000
            if config.ha != nil, let held = heldSeconds(l), held < grace {
                parts.append("\(l.name) taking over (outer address held \(tenths(held)) s; its peers are judged within \(tenths(grace)) s)")
                continue
            }
            let states = peers.map { "\($0.outerIpAddress) \($0.state.rawValue)" }.joined(separator: ", ")
            return bad("link \(l.name): no VPG gate peer up (\(states.isEmpty ? "none reported" : states))")
        }
        return Verdict(healthy: true, line: "healthy: " + (parts.isEmpty ? "no links" : parts.joined(separator: "; ")))
    }

    /// Seconds with one decimal ("4.0"), never negative.
    static func tenths(_ s: Double) -> String {
        let t = Int((max(s, 0) * 10).rounded())
        return "\(t / 10).\(t % 10)"
    }
}
