/// Which links this node is the HA standby for: the config has `ha` and the link's
/// outer address is not on its underlay device (keepalived holds it on the master).
/// The one decision behind the daemon pausing liveness on a link (peers `standby`),
/// `status`'s standby line and its not counting such peers as down.
public enum HAStandby {
    /// True when `observed` (an RTM_GETADDR dump) has `link.outerIpAddress` on the
    /// device named `link.underlayDevice`; false when either is missing.
    public static func holdsOuterAddress(_ link: VPGLink, _ observed: ObservedState) -> Bool {
        outerAddress(link, observed) != nil
    }

    /// `link.outerIpAddress` as `observed` has it on the device named `link.underlayDevice`
    /// (with its IFA_CACHEINFO age), nil when either is missing.
    public static func outerAddress(_ link: VPGLink, _ observed: ObservedState) -> ObservedAddress? {
        guard let underlay = observed.link(named: link.underlayDevice) else { return nil }
        return observed.addresses.first { $0.linkIndex == underlay.index && $0.prefix.address == link.outerIpAddress }
    }

    /// The names of `config`'s links this node is the standby for now; empty without `ha`
    /// (a single VM's missing outer address is a blocker, never standby).
    public static func links(_ config: GatePeerConfig, _ observed: ObservedState) -> Set<String> {
        guard config.ha != nil else { return [] }
        return Set(config.links.filter { !holdsOuterAddress($0, observed) }.map(\.name))
    }
}
