/// The metrics of `gatepeer metrics` and of the daemon's textfile (docs/metrics.md lists
/// each with its type, unit and labels): links and filter counters from the kernel (a
/// StatusReport), VPG gate peers and daemon counters from the live daemon's runtime
/// report. Label values are config names and indexes only, never a learned or granted
/// address, so the number of series is bounded by the config.
public enum GatePeerMetrics {
    /// The names of repair kinds that are always written (0 until one happens), so a
    /// rate() over them exists from the daemon's start.
    public static let repairKinds = ["link", "fdb", "address", "route", "sysctl", "filter"]

    /// The exposition text. `status`: the kernel as observed, with the runtime report
    /// attached (its `daemon`: nil when no live daemon); `config`: for filter group names;
    /// `grantsActive`/`learnedAddresses`: counts from the state (nil: unknown, left out).
    public static func render(_ status: StatusReport, config: GatePeerConfig, grantsActive: Int?, learnedAddresses: Int?) -> String {
        var e = Exposition()
        typealias Samples = [(labels: [(String, String)], value: Exposition.Value)]
        func bool(_ b: Bool) -> Exposition.Value { .count(b ? 1 : 0) }

        // Links, as the kernel holds them.
        e.add("gatepeer_link_up", .gauge, "1 when the link's vxlan device exists and is not down (operstate up or unknown), else 0.",
              status.links.map { ([("link", $0.name)], bool($0.present && ($0.operState == "up" || $0.operState == "unknown"))) })
        let stats = status.links.compactMap { l in l.stats.map { (l.name, $0) } }
        e.add("gatepeer_link_receive_packets_total", .counter, "Packets received on the link's vxlan device (decapsulated).",
              stats.map { ([("link", $0.0)], .count($0.1.rxPackets)) })
        e.add("gatepeer_link_receive_bytes_total", .counter, "Bytes received on the link's vxlan device (inner frames).",
              stats.map { ([("link", $0.0)], .count($0.1.rxBytes)) })
        e.add("gatepeer_link_transmit_packets_total", .counter, "Packets sent through the link's vxlan device.",
              stats.map { ([("link", $0.0)], .count($0.1.txPackets)) })
        e.add("gatepeer_link_transmit_bytes_total", .counter, "Bytes sent through the link's vxlan device (inner frames).",
              stats.map { ([("link", $0.0)], .count($0.1.txBytes)) })
        e.add("gatepeer_in_sync", .gauge, "1 when the kernel matches the config (no pending change, no blocker), else 0.",
              bool(status.inSync))
        e.add("gatepeer_pending_changes", .gauge, "Changes an apply would make now (drift not repaired yet).", .count(UInt64(status.pendingChanges.count)))
        e.add("gatepeer_blockers", .gauge, "Reasons an apply refuses part of the config (e.g. a missing underlay device).", .count(UInt64(status.blockers.count)))

        // VPG gate peers, from the live daemon only: without one nothing is known of them.
        let peers = status.daemon?.peers ?? []
        func peerLabels(_ p: PeerLiveness) -> [(String, String)] { [("link", p.link), ("peer", p.outerIpAddress.description)] }
        let judged = peers.filter { $0.state == .up || $0.state == .down }
        e.add("gatepeer_peer_up", .gauge, "1 when the VPG gate peer answers probes, 0 when it is judged down; absent while unknown or standby.",
              judged.map { p in (peerLabels(p), bool(p.state == .up)) })
        // Only with `ha`: a single VM is never a standby, and a series of zeros is noise.
        e.add("gatepeer_peer_standby", .gauge, "1 while the VPG gate peer is not probed because this node is the link's HA standby, else 0 (with an ha section only).",
              config.ha == nil ? [] : peers.map { p in (peerLabels(p), bool(p.state == .standby)) })
        e.add("gatepeer_peer_rtt_seconds", .gauge, "Round-trip time of the last answered probe to the VPG gate peer; absent unless it is up.",
              peers.compactMap { p in p.currentRTT.map { (peerLabels(p), .real($0)) } })
        e.add("gatepeer_peer_state_since_timestamp_seconds", .gauge, "Unix time the peer's current state (up or down) began.",
              judged.compactMap { p in p.since.map { (peerLabels(p), .real($0)) } })
        e.add("gatepeer_peer_probes_sent_total", .counter, "Probes sent to the VPG gate peer through the tunnel.",
              peers.map { (peerLabels($0), .count($0.probesSent)) })
        e.add("gatepeer_peer_probes_lost_total", .counter, "Probes to the VPG gate peer that got no answer within the timeout.",
              peers.map { (peerLabels($0), .count($0.probesLost)) })
        e.add("gatepeer_peer_transitions_total", .counter, "Changes of the VPG gate peer's state between up and down.",
              peers.map { (peerLabels($0), .count($0.transitions)) })
        if let d = status.daemon {
            e.add("gatepeer_link_probe_problem", .gauge, "1 when the link's VPG gate peers cannot be probed at all (e.g. no probe socket), else 0.",
                  status.links.map { ([("link", $0.name)], bool(d.livenessProblems[$0.name] != nil)) })
        }

        // The filter's counters, as the kernel holds them.
        if let f = status.filter {
            e.add("gatepeer_filter_loaded", .gauge, "1 when table inet gatepeer is in the kernel, else 0.", bool(f.present))
            e.add("gatepeer_filter_in_sync", .gauge, "1 when table inet gatepeer is what the config renders, else 0.", bool(f.present && f.inSync))
            if f.present && f.policy {
                e.add("gatepeer_filter_verdict_packets_total", .counter, "Packets per filter verdict counter.",
                      f.verdicts.map { ([("verdict", $0.0)], .count($0.1.packets)) })
                e.add("gatepeer_filter_verdict_bytes_total", .counter, "Bytes per filter verdict counter.",
                      f.verdicts.map { ([("verdict", $0.0)], .count($0.1.bytes)) })
            }
            let guards = f.vxlanGuard.compactMap { g in g.dropped.map { (g.link, $0) } }
            e.add("gatepeer_filter_vxlan_guard_dropped_packets_total", .counter, "VXLAN packets dropped because their source is none of the link's peers.",
                  guards.map { ([("link", $0.0)], .count($0.1.packets)) })
            e.add("gatepeer_filter_vxlan_guard_dropped_bytes_total", .counter, "Bytes of VXLAN packets dropped because their source is none of the link's peers.",
                  guards.map { ([("link", $0.0)], .count($0.1.bytes)) })
            let groups = config.filter?.outbound ?? []
            let rules: Samples = f.present ? f.rules.map { r in
                ([("group", String(r.group)), ("group_name", groups.indices.contains(r.group) ? groups[r.group].name : ""),
                  ("rule", r.rule.map(String.init) ?? "default")], .count(r.count.packets))
            } : []
            e.add("gatepeer_filter_rule_packets_total", .counter, "Packets decided by each outbound rule (rule: index in the group, or default).", rules)
            e.add("gatepeer_filter_rule_bytes_total", .counter, "Bytes decided by each outbound rule (rule: index in the group, or default).",
                  zip(rules, f.rules).map { ($0.0.labels, .count($0.1.count.bytes)) })
        }
        if let grantsActive {
            e.add("gatepeer_filter_grants_active", .gauge, "Temporary grants not yet expired (grants.json).", .count(UInt64(grantsActive)))
        }
        if let learnedAddresses {
            e.add("gatepeer_filter_learned_addresses", .gauge, "Addresses learned for domain-name rules and not yet expired.", .count(UInt64(learnedAddresses)))
        }

        // The daemon's own counters, from its runtime report.
        e.add("gatepeer_daemon_running", .gauge, "1 when a live gatepeer run manages this network namespace and its runtime report is fresh, else 0.", bool(status.daemon != nil))
        e.add("gatepeer_daemon_report_problem", .gauge, "1 when a gatepeer run holds this network namespace but its runtime report is stale or unreadable, else 0.",
              bool(status.runtimeHolder != nil))
        if let d = status.daemon {
            let c = d.counters
            e.add("gatepeer_daemon_start_time_seconds", .gauge, "Unix time the running daemon started.", .real(d.startTime))
            e.add("gatepeer_applies_total", .counter, "Converge passes that applied at least one change.", .count(c.applies))
            e.add("gatepeer_changes_applied_total", .counter, "Changes the kernel took, over all applies.", .count(c.changesApplied))
            let kinds = repairKinds + c.repairs.keys.filter { !repairKinds.contains($0) }.sorted()
            e.add("gatepeer_repairs_total", .counter, "Changes applied to repair drift, by object kind.",
                  kinds.map { ([("kind", $0)], .count(c.repairs[$0] ?? 0)) })
            e.add("gatepeer_failures_total", .counter, "Converge passes that ended with a failure.", .count(c.failures))
            if let t = c.lastConverged {
                e.add("gatepeer_last_converge_timestamp_seconds", .gauge, "Unix time of the last converge that left nothing to do.", .real(t))
            }
            e.add("gatepeer_config_reloads_total", .counter, "Reloads (SIGHUP) whose config was taken.", .count(c.reloads))
            e.add("gatepeer_config_load_errors_total", .counter, "Reloads (SIGHUP) whose config was refused.", .count(c.configLoadErrors))
            e.add("gatepeer_kernel_events_total", .counter, "Kernel events received (rtnetlink and nf_tables).", .count(c.events))
            e.add("gatepeer_kernel_events_own_total", .counter, "Notifications of gatepeer's own requests, dropped unread.", .count(c.ownEvents))
            let triggers = ["start", "reload", "event", "overrun", "resync", "poll"]
            e.add("gatepeer_reconciles_total", .counter, "Reconcile passes (observe, plan, apply what differs), by what triggered them.",
                  (triggers + c.passes.keys.filter { !triggers.contains($0) }.sorted()).map { ([("trigger", $0)], .count(c.passes[$0] ?? 0)) })
            e.add("gatepeer_kernel_event_overruns_total", .counter, "Event socket overruns (ENOBUFS), each answered with a full resync.", .count(c.eventOverruns))
            e.add("gatepeer_peer_flushed_entries_total", .counter, "Learned FDB and neighbour entries deleted because their VPG gate peer went down.", .count(c.peerFlushes))
        }
        return e.text
    }
}
