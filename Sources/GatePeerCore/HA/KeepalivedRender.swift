/// keepalived.conf for this node of an HA pair (`gatepeer ha render`), keepalived 2.2
/// (Debian 12) syntax, checked by `keepalived -t -f FILE` in the tests. Pure: the
/// config's `ha` section and links in, the file's text out.
///
/// What it holds and why (keepalived.conf(5); FIELD.md "Availability"):
/// - `vrrp_version 3`: centisecond adverts (RFC 5798); IPv6 needs it anyway.
/// - unicast only (`unicast_src_ip`, `unicast_peer`): clouds carry no multicast;
///   `unicast_fault_no_peer` so an instance without its peer goes FAULT instead of
///   falling back to multicast (keepalived before 2.2.4 did so silently);
///   `check_unicast_src`: adverts from anyone but the peer are dropped.
/// - every instance starts `state BACKUP`: `nopreempt` and `preempt_delay` only work so,
///   and a node that boots must not claim the identity before it has heard the other.
/// - one instance per link (its outer address on the underlay, its inner address on its
///   vxlan device) and one for the backend next hop, all in one `vrrp_sync_group` so
///   they move together; a single instance has no group (keepalived refuses a group of
///   one: `keepalived -t` exits 5).
/// - `vrrp_script` running `gatepeer health`; `track_script` and `notify` (`gatepeer ha
///   notify`, keepalived appends TYPE NAME STATE PRIORITY) on the group, so the
///   notification comes once per transition; with a cloud hook also
///   `notify_master_rx_lower_pri` (a master that hears a lower priority re-claims the
///   floating address after a split), on the one instance or on the first one of the
///   group (an instance keyword: keepalived refuses it in a vrrp_sync_group).
/// - `enable_script_security` + `script_user root`: scripts run as root, and keepalived
///   refuses a script a non-root user could replace.
public enum KeepalivedRender {
    /// The file for this node. `gatepeer`: the absolute path of the gatepeer binary the
    /// scripts run; `configPath`: the config they read (both without whitespace or quotes,
    /// checked by the command).
    public static func render(_ config: GatePeerConfig, _ ha: HAConfig, gatepeer: String, configPath: String) -> String {
        let instances = ha.instances(links: config.links)
        let notify = "\(gatepeer) ha notify -c \(configPath)"
        var out: [String] = []
        out.append("# keepalived.conf for gatepeer node \(ha.nodeAddress.address) (peer \(ha.peerAddress)), mode \(ha.mode.rawValue)")
        out.append("# rendered by `gatepeer ha render -c \(configPath)`: render it again after changing that file (docs/ha.md)")
        out.append("global_defs {")
        out.append("    enable_script_security")
        out.append("    script_user root")
        out.append("    vrrp_version 3")
        out.append("}")
        out.append("")
        out.append("vrrp_script gatepeer_health {")
        out.append("    script \"\(gatepeer) health -c \(configPath)\"")
        out.append("    interval \(ha.health.intervalSeconds)")
        out.append("    timeout \(ha.health.timeoutSeconds)")
        out.append("    rise \(ha.health.rise)")
        out.append("    fall \(ha.health.fall)")
        out.append("    weight \(ha.health.weight)")
        out.append("}")
        let reclaim = ha.hook == nil ? nil : "notify_master_rx_lower_pri \"\(notify) \(HAState.masterReclaim.rawValue)\""
        let tracking = ["track_script {", "    gatepeer_health", "}", "notify \"\(notify)\""] + (instances.count == 1 ? [reclaim].compactMap { $0 } : [])
        if instances.count > 1 {
            out.append("")
            out.append("vrrp_sync_group gatepeer {")
            out.append("    group {")
            for i in instances { out.append("        \(i.name)") }
            out.append("    }")
            out += tracking.map { "    " + $0 }
            out.append("}")
        }
        for i in instances {
            out.append("")
            out.append("vrrp_instance \(i.name) {")
            out.append("    state BACKUP")
            out.append("    interface \(ha.interface)")
            out.append("    virtual_router_id \(i.routerId)")
            out.append("    priority \(ha.priority)")
            out.append("    advert_int \(seconds(ha.advertIntervalMs))")
            if !ha.preempt {
                out.append("    nopreempt")
            } else if let d = ha.preemptDelaySeconds {
                out.append("    preempt_delay \(d)")
            }
            out.append("    unicast_src_ip \(ha.nodeAddress.address)")
            out.append("    unicast_peer {")
            out.append("        \(ha.peerAddress)")
            out.append("    }")
            out.append("    unicast_fault_no_peer")
            out.append("    check_unicast_src")
            // One family per virtual_ipaddress block (keepalived's rule); the others go
            // in virtual_ipaddress_excluded, which moves them the same way.
            let family = ha.nodeAddress.family
            let same = i.addresses.filter { $0.prefix.family == family }, other = i.addresses.filter { $0.prefix.family != family }
            for (block, list) in [("virtual_ipaddress", same), ("virtual_ipaddress_excluded", other)] where !list.isEmpty {
                out.append("    \(block) {")
                for a in list { out.append("        \(a.prefix) dev \(a.device)") }
                out.append("    }")
            }
            if instances.count == 1 {
                out += tracking.map { "    " + $0 }
            } else if i.name == instances.first?.name, let reclaim {
                // keepalived knows notify_master_rx_lower_pri in vrrp_instance only
                // (`keepalived -t`: "Unknown keyword" in a vrrp_sync_group): the first
                // instance, the link's, carries it for the group.
                out.append("    " + reclaim)
            }
            out.append("}")
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// Milliseconds as keepalived's decimal seconds: 1000 "1", 100 "0.1", 1230 "1.23".
    static func seconds(_ ms: Int) -> String {
        let whole = ms / 1000, frac = ms % 1000
        guard frac != 0 else { return "\(whole)" }
        var f = String(frac)
        while f.count < 3 { f = "0" + f }
        while f.hasSuffix("0") { f.removeLast() }
        return "\(whole).\(f)"
    }
}
