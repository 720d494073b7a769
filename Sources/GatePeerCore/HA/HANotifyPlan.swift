/// What `gatepeer ha notify` does for one keepalived notification, in order, pure so the
/// order is tested without root (the command carries the steps out and logs each).
///
/// - MASTER: conntrackd first (FIELD.md: the commit must run before traffic arrives on the
///   new master), as conntrack-tools' primary-backup.sh does: `-c` commit the external
///   cache into the kernel table, `-f` flush both caches, `-R` resync the internal cache
///   with the kernel, `-B` bulk-send it to the other node; then announce every moved
///   address (gratuitous ARP / unsolicited NA) on its device; then the cloud hook.
/// - MASTER_RX_LOWER_PRI (a master hearing a lower priority after a split): announce and
///   run the hook again, so the floating address comes back; no conntrackd step.
/// - BACKUP: conntrackd `-t` (shorten the kernel's timers: the flows now live on the
///   master) and `-n` (ask the master for a resync); the hook. Nothing takes an address
///   away: keepalived owns them and has already removed them.
/// - FAULT: conntrackd `-t`; the hook. STOP and DELETED: the hook only.
public enum HANotifyPlan {
    /// One step.
    public enum Step: Equatable, Sendable {
        /// `conntrackd` with these arguments (`-C CONFIG -c` ...).
        case conntrackd([String])
        /// Announce a moved address on its device.
        case announce(HAConfig.VirtualAddress)
        /// Run the cloud hook as `PATH STATE`, killed after `timeoutSeconds`.
        case hook(path: String, state: String, timeoutSeconds: Int)
    }

    /// The steps for `state` on this node of `config` (whose `ha` is `ha`).
    public static func steps(_ config: GatePeerConfig, _ ha: HAConfig, _ state: HAState) -> [Step] {
        var out: [Step] = []
        let conntrackd: [String] = {
            switch state {
            case .master: return ["-c", "-f", "-R", "-B"]
            case .backup: return ["-t", "-n"]
            case .fault: return ["-t"]
            case .stop, .deleted, .masterReclaim: return []
            }
        }()
        if let c = ha.conntrackd {
            out += conntrackd.map { .conntrackd(["-C", c.configPath, $0]) }
        }
        if state == .master || state == .masterReclaim {
            out += ha.movingAddresses(links: config.links).map { .announce($0) }
        }
        if let h = ha.hook {
            let hookState = state == .masterReclaim ? HAState.master.rawValue : state.rawValue
            out.append(.hook(path: h.path, state: hookState, timeoutSeconds: h.timeoutSeconds))
        }
        return out
    }
}
