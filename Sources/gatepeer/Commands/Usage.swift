/// The help texts: `gatepeer --help` (`top`) and `gatepeer COMMAND --help` (`command`,
/// by the first word). Printed on stdout for help, on stderr after a usage error.
enum Usage {
    /// The config file commands read when -c/--config is not given.
    static let defaultConfigPath = "/etc/gatepeer/gatepeer.json"

    /// `gatepeer --help`: the commands, the global options and the exit statuses.
    static let top = """
    usage: gatepeer <command> [options]

    Keeps VXLAN links to a VPG (virtual private gateway) converged to one config.

    commands:
      validate   check the config and report every problem with its place in the file
      plan       show the changes apply would make (+ create, ~ change, - delete)
      apply      make the kernel match the config
      status     show each link as the kernel holds it, and whether it is in sync (exit 3 when degraded)
      metrics    print Prometheus metrics (links, VPG gate peers, filter counters, daemon counters)
      down       remove everything gatepeer made (links, FDB entries, addresses, routes, nftables table)
      run        the service: apply, then keep converging (drift repair, SIGHUP reload, DNS refresh)
      filter     check SRC DST [PROTO[/PORT]]: the verdict for one packet and the rule deciding it;
                 show: the nftables table the config compiles to
      ipsec      render (swanctl, strongswan-legacy, libreswan, sheet; --side local|remote), lint,
                 psk, apply: IPsec site-to-site configuration for both ends
      health     exit 0 when this node can carry its links now (keepalived's check), else 1 and why
      ha         render: keepalived.conf (or --conntrackd: conntrackd.conf) for this node of an HA
                 pair; notify STATE: what keepalived calls on a transition (docs/ha.md)

    options (before or after the command; --opt VALUE or --opt=VALUE; -- ends the options):
      -c, --config FILE   config file (default \(defaultConfigPath))
      -j, --json          machine-readable output (plan, status, apply, down, filter check, filter grants)
      -h, --help          help for gatepeer or a command

    exit status: 0 ok, 1 runtime failure, 2 bad input or usage, 3 degraded (status only)
    """

    /// `gatepeer COMMAND --help` by the command's first word (filter and ipsec cover their subcommands).
    static let command: [String: String] = [
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

        Per link: device, oper state ("up (operstate unknown)": a vxlan device that is up
        has no carrier state of its own), vxlanId, port, outer address, MTU, inner address,
        gate peers (FDB) with their liveness (state up, down, unknown or standby, RTT,
        probes lost) from the running gatepeer run, rx/tx packets and bytes, routes;
        forwarding sysctls; pending changes. The --json shape is stable (docs/status.md).
        Exit 0: in sync and no VPG gate peer down. 3: degraded: changes pending (drift not
        repaired yet), something blocked, a peer the daemon judged down, a link it cannot
        probe, or a running daemon whose runtime report is stale (not written for 15 s),
        unreadable or another process's. 1: the kernel cannot be read. A peer is "unknown"
        when no gatepeer run manages the namespace (or it has not probed the peer enough
        yet); unknown alone does not count as degraded. With an ha section, a link whose
        outer address is not on the underlay is this node's HA standby: a line says so,
        its peers are "standby" (the daemon does not probe them: only the master can) and
        the standby is not degraded.
        """,
        "metrics": """
        usage: gatepeer metrics [-c FILE]

        Prints the Prometheus text exposition (format 0.0.4) of this network namespace:
        per link state and rx/tx packets and bytes, filter verdict and per-rule counters,
        grants and learned addresses, and from the running gatepeer run its counters
        (applies, repairs by kind, failures, last converge) and each VPG gate peer's state,
        RTT and probes. The daemon writes the same text to its textfile (metrics.textfile,
        docs/metrics.md). Exit 0, or 1 when the kernel cannot be read.
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
        "ipsec": ipsec,
        "ha": ha,
        "health": """
        usage: gatepeer health [-c FILE]

        keepalived's vrrp_script for an HA pair (docs/ha.md), and a quick check for anyone.
        Exit 0 and one "healthy: ..." line on stdout when a live gatepeer run manages this
        network namespace (its runtime report is fresh), the kernel holds the config (no
        pending change, no blocker) and each link has a VPG gate peer up in the daemon's
        report. With an ha section, a link whose outer address is not on the underlay is
        this node's standby state: not a blocker, and its peers (which only the master can
        probe through the tunnel) are not judged; a node that took the address over less
        than rise x intervalMs + timeoutMs ago is not failed for peers not up yet.
        Otherwise exit 1 and one "not healthy: ..." line on stderr. Reads only: no lock,
        nothing written or changed. Exit 2 for a bad config.
        """,
        "run": """
        usage: gatepeer run [-c FILE] [--resync SECONDS]

        The service (systemd runs this). Applies the config, then repairs drift as the
        kernel reports it (rtnetlink and nf_tables events, within milliseconds) and every
        --resync seconds (1..3600, default 300) as a safety net; SIGHUP re-reads the config
        (a bad file is reported and the running config kept); domain names in filter rules
        are resolved against filter.resolvers when their TTL runs out, and their addresses
        loaded with TTL + domainSlackSeconds. SIGTERM stops it and leaves the kernel as it is.
        One per network namespace: a second run refuses, and apply and down refuse while it runs.
        """,
        "down": """
        usage: gatepeer down [-c FILE (not read)] [--json]

        Removes every object gatepeer owns in this network namespace: vxlan links whose
        alias is exactly gatepeer:<their name> (with their FDB entries and addresses) and
        routes with protocol gatepeer through those links. Look-alikes (a gatepeer: alias on
        another kind of device or naming another device, protocol gatepeer through another
        device) are reported as warnings and left alone, as is everything else. Sysctls are
        left as they are. What down changed is read back: exit 1 names what is still there.
        -c FILE is accepted so scripts can give every command the same options, and not read:
        down removes everything gatepeer owns, whatever a config says.
        """,
    ]

    /// `gatepeer ha notify`'s usage lines, printed alone after a bad argument to it.
    static let haNotify = """
    usage: gatepeer ha notify [-c FILE] STATE
           gatepeer ha notify [-c FILE] GROUP|INSTANCE NAME STATE [PRIORITY]
      STATE: MASTER, BACKUP, FAULT, STOP, DELETED or MASTER_RX_LOWER_PRI; PRIORITY: 0..255.
      STATE and GROUP|INSTANCE are read in any case (keepalived passes upper case).
    """

    /// `gatepeer ha --help`: every ha subcommand.
    static let ha = """
    usage: gatepeer ha render [-c FILE] [--conntrackd] [-o FILE]
           \(haNotify.dropFirst("usage: ".count))

    render: keepalived.conf for this node from the config's ha section (VRRPv3, unicast to
    ha.peerAddress, one instance per link and one for the backend next hop in a sync group,
    a vrrp_script running gatepeer health, notify running gatepeer ha notify), or with
    --conntrackd conntrackd.conf (FTFW over UDP unicast between the two nodes). Printed, or
    written to -o FILE (0644; not the config file itself). Render both nodes from their own
    config files. Notes on stderr: --conntrackd -o other than ha.conntrackd.configPath (ha
    notify runs conntrackd -C configPath), and GATEPEER_STATE_DIR set (the script lines do
    not carry it: start keepalived with the same value).
    notify: what keepalived runs on a transition (it appends TYPE NAME STATE PRIORITY). On
    MASTER: conntrackd -c, -f, -R, -B first (when ha.conntrackd is set), then a gratuitous
    ARP or unsolicited neighbour advertisement for every moved address on its device (the
    vxlan device included), then the cloud hook (ha.hook, killed after its timeout). On
    MASTER_RX_LOWER_PRI (a master hearing a lower priority after a split): the announcements
    and the hook again. On BACKUP: conntrackd -t, -n, and the hook; nothing takes an address
    away (keepalived owns them). FAULT: conntrackd -t and the hook; STOP and DELETED: the
    hook. Each step is one key=value line on stderr. Exit 0, or 1 when a step failed (the
    others still run), 2 for bad arguments (then only the ha notify usage lines above).
    """

    /// `gatepeer ipsec --help`: every ipsec subcommand.
    static let ipsec = """
    usage: gatepeer ipsec render --site NAME --format swanctl|strongswan-legacy|libreswan|sheet
                                 --side local|remote [--out DIR] [-c FILE]
           gatepeer ipsec lint [--site NAME] [-c FILE]
           gatepeer ipsec psk
           gatepeer ipsec apply --site NAME [-c FILE]

    render: the site's configuration for our end (--side local) or the mirror image for the
    other end (--side remote). Without --out it is printed; with --out the files are written
    into DIR (files holding keys 0600, the others 0644; nothing else in DIR is touched).
    lint: the site's proposals, selectors and key file; warnings (weak algorithms a site
    allowed with allowWeak, start action none) and errors, one per line. Exit 2 on errors.
    psk: a fresh pre-shared key: 48 letters and digits starting with a letter, 285 bits of entropy (for a 0600 key file).
    apply: writes our end to /etc/swanctl/conf.d/gatepeer-NAME.conf (0600) and runs
    swanctl --load-all (GATEPEER_SWANCTL_DIR overrides the directory).
    """
}
