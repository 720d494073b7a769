/// The config's `ha` section: this node's half of a pair of gate peer VMs that keepalived
/// (VRRPv3, unicast) makes redundant. gatepeer grows no failover protocol of its own: it
/// renders keepalived.conf (and conntrackd.conf) from this (`KeepalivedRender`,
/// `ConntrackdRender`), answers keepalived's health check (`HealthCheck`) and acts on its
/// notifications (`HANotifyPlan`). Decoded and checked by `HADecoder`; docs/ha.md.
public struct HAConfig: Equatable, Sendable {
    /// How the pair shares the VPG's view of one gate peer.
    public enum Mode: String, Equatable, Sendable, CaseIterable {
        /// Mode A, "one identity that moves": both nodes are configured with the same
        /// outerIpAddress and innerIpAddress; only the master holds them (the outer one
        /// on the underlay, the inner one on the vxlan device), as keepalived virtual
        /// addresses, so the VPG never sees a change.
        case movingIdentity = "moving-identity"
    }

    /// A virtual address keepalived adds on the master and deletes on the backup: the
    /// address with its subnet length, and the device it goes on.
    public struct VirtualAddress: Equatable, Sendable {
        /// Address and subnet length (`ip addr add` form).
        public var prefix: IPPrefix
        /// The device keepalived adds it to (`dev` of `virtual_ipaddress`).
        public var device: String
        /// A virtual address as the decoder builds it.
        public init(prefix: IPPrefix, device: String) {
            self.prefix = prefix
            self.device = device
        }
    }

    /// keepalived's `vrrp_script` running `gatepeer health`: seconds between runs, the
    /// seconds after which a run counts as failed, successes in a row that make it OK,
    /// failures in a row that make it KO, and the priority change (0: KO puts the
    /// instances in FAULT, which gives the addresses up whatever the priorities).
    public struct Health: Equatable, Sendable {
        /// `interval`, whole seconds (keepalived 2.2 takes integers), 1...3600.
        public var intervalSeconds: Int
        /// `timeout`, whole seconds, 1...3600.
        public var timeoutSeconds: Int
        /// `rise`, 1...100.
        public var rise: Int
        /// `fall`, 1...100.
        public var fall: Int
        /// `weight`, -253...253 (keepalived's range); 0 means FAULT on failure.
        public var weight: Int
        /// Seconds, 0...3600 (0: off): `gatepeer health` stays non-zero on a node whose
        /// keepalived last reported FAULT less than this long ago, so that a node that
        /// faulted does not come back as a ready BACKUP at once. Without it, two nodes that
        /// both lost every VPG gate peer hand the master role back and forth every few
        /// seconds (a standby cannot judge its own peers; docs/ha.md). Not rendered: health
        /// reads the time from ha-state.json (`gatepeer ha notify`).
        public var holdDownSeconds: Int
        /// keepalived's own defaults but for `fall` and `rise` (2: one slow run is no
        /// failover); no hold-down.
        public static let `default` = Health(intervalSeconds: 1, timeoutSeconds: 2, rise: 2, fall: 2, weight: 0)
        /// Settings as the decoder builds them.
        public init(intervalSeconds: Int, timeoutSeconds: Int, rise: Int, fall: Int, weight: Int, holdDownSeconds: Int = 0) {
            self.intervalSeconds = intervalSeconds
            self.timeoutSeconds = timeoutSeconds
            self.rise = rise
            self.fall = fall
            self.weight = weight
            self.holdDownSeconds = holdDownSeconds
        }
    }

    /// The operator's cloud hook (moves a secondary private IP or a route through the
    /// cloud's API): run by `gatepeer ha notify` as `PATH STATE` with a deadline.
    public struct Hook: Equatable, Sendable {
        /// Absolute path of the executable, run without a shell.
        public var path: String
        /// Seconds it may run before it is killed (SIGKILL) and counted as failed, 1...600.
        public var timeoutSeconds: Int
        /// A hook as the decoder builds it.
        public init(path: String, timeoutSeconds: Int) {
            self.path = path
            self.timeoutSeconds = timeoutSeconds
        }
    }

    /// conntrackd in FTFW mode over UDP unicast between the two nodes' own addresses, on
    /// the VRRP interface (`gatepeer ha render --conntrackd`).
    public struct Conntrackd: Equatable, Sendable {
        /// UDP port of the sync channel on both nodes, 1...65535 (default 3780, the
        /// conntrack-tools examples' port).
        public var port: UInt16
        /// Where conntrackd.conf lives, for the `conntrackd -C PATH -c/-f/-R` commands
        /// `gatepeer ha notify` runs (default /etc/conntrackd/conntrackd.conf): conntrackd
        /// reads `socketPath` from it, so the commands reach the daemon that file started.
        public var configPath: String
        /// General's `LockFile`: the file the daemon locks so that a second one on the
        /// same file refuses to start (absolute; default Debian's /var/lock/conntrack.lock).
        public var lockFile: String
        /// General's `UNIX { Path }`: the socket the daemon listens on for the `-c/-f/-R/-B`
        /// commands (absolute, under 108 bytes: sun_path; default /var/run/conntrackd.ctl).
        public var socketPath: String
        /// Settings as the decoder builds them.
        public init(port: UInt16, configPath: String, lockFile: String = Conntrackd.defaultLockFile,
                    socketPath: String = Conntrackd.defaultSocketPath) {
            self.port = port
            self.configPath = configPath
            self.lockFile = lockFile
            self.socketPath = socketPath
        }
        /// Debian's conntrackd.conf path.
        public static let defaultConfigPath = "/etc/conntrackd/conntrackd.conf"
        /// Debian's lock file (its packaged conntrackd.conf).
        public static let defaultLockFile = "/var/lock/conntrack.lock"
        /// Debian's control socket (its packaged conntrackd.conf).
        public static let defaultSocketPath = "/var/run/conntrackd.ctl"
        /// The longest socket path a sockaddr_un holds, in bytes, without its NUL.
        public static let socketPathLimit = 107
        /// The sync port when the config gives none.
        public static let defaultPort: UInt16 = 3780
    }

    /// The failover mode (only mode A is built).
    public var mode: Mode
    /// The device VRRP adverts and the moving outer addresses use: every link's
    /// `underlayDevice` (mode A moves them on one segment).
    public var interface: String
    /// This node's own unicast address on `interface`, with its subnet length:
    /// keepalived's `unicast_src_ip`; the moving addresses must lie in its subnet.
    public var nodeAddress: IPPrefix
    /// The other node's own address: keepalived's `unicast_peer`.
    public var peerAddress: IPAddress
    /// The first VRRP router id (1...255); instance k of `instances(links:)` uses this + k.
    public var virtualRouterId: Int
    /// This node's VRRP priority, 1...254 (255 would claim address ownership).
    public var priority: Int
    /// The other node's priority when known: it must differ, and a health weight must be
    /// able to move the master across it.
    public var peerPriority: Int?
    /// VRRPv3 advertisement interval in milliseconds: 10...40950 in steps of 10 (the
    /// protocol counts centiseconds in 12 bits, RFC 5798 5.2.7). A dead master is noticed
    /// after 3 intervals plus skew.
    public var advertIntervalMs: Int
    /// false: `nopreempt` (a recovered node stays backup: no second outage); true: the
    /// higher priority takes the master back, after `preemptDelaySeconds` when given.
    public var preempt: Bool
    /// keepalived's `preempt_delay`, 1...1000 seconds; only with `preempt`.
    public var preemptDelaySeconds: Int?
    /// The backend-side next hop backends route device traffic to, when it is not the
    /// outer address itself (backends on the underlay segment can use that).
    public var backend: VirtualAddress?
    /// The operator's cloud hook, nil for none.
    public var hook: Hook?
    /// The vrrp_script settings.
    public var health: Health
    /// conntrackd's sync settings, nil: no conntrackd.
    public var conntrackd: Conntrackd?
    /// The floating SNAT address: `filter.snatAddress` as a host prefix (/32, /128) on
    /// `filter.uplinkDevice`, when `filter.nat` is "snat"; nil otherwise. It moves in the
    /// first link's instance, so the master NATs devices' flows to the address the
    /// internet answers to and a flow keeps its translation across a failover. A host
    /// prefix adds no connected route: the nodes' routing stays what it was, and Linux
    /// answers ARP for a local address on any interface (arp_ignore 0).
    public var snat: VirtualAddress?

    /// A section as the decoder builds it; no check here.
    public init(mode: Mode = .movingIdentity, interface: String, nodeAddress: IPPrefix, peerAddress: IPAddress,
                virtualRouterId: Int, priority: Int, peerPriority: Int? = nil, advertIntervalMs: Int = 1000,
                preempt: Bool = false, preemptDelaySeconds: Int? = nil, backend: VirtualAddress? = nil,
                hook: Hook? = nil, health: Health = .default, conntrackd: Conntrackd? = nil, snat: VirtualAddress? = nil) {
        self.mode = mode
        self.interface = interface
        self.nodeAddress = nodeAddress
        self.peerAddress = peerAddress
        self.virtualRouterId = virtualRouterId
        self.priority = priority
        self.peerPriority = peerPriority
        self.advertIntervalMs = advertIntervalMs
        self.preempt = preempt
        self.preemptDelaySeconds = preemptDelaySeconds
        self.backend = backend
        self.hook = hook
        self.health = health
        self.conntrackd = conntrackd
        self.snat = snat
    }

    /// The floating SNAT address for `filter`: its snat address as a host prefix on its
    /// uplink device, nil unless `nat` is "snat" with an uplink device.
    public static func snatAddress(_ filter: FilterConfig?) -> VirtualAddress? {
        guard let filter, let up = filter.uplinkDevice, case .snat(let a) = filter.nat else { return nil }
        return VirtualAddress(prefix: IPPrefix(address: a, length: a.family.bitCount)!, device: up)
    }

    /// What `ha render` and `validate` note about flows across a failover: with NAT
    /// "masquerade" each node translates to its own uplink address, so the internet
    /// answers a flow at the old master's address after a failover; empty otherwise.
    public static func failoverNotes(_ filter: FilterConfig?) -> [String] {
        guard let filter, let up = filter.uplinkDevice, filter.nat == .masquerade else { return [] }
        return ["filter.nat is \"masquerade\": each node translates devices' internet traffic to its own address on \(up), so NATed flows cannot survive a failover (the internet keeps answering the old master's address), with or without conntrackd; to keep them, set filter.nat to \"snat\" and filter.snatAddress to an address both nodes may hold on \(up): ha then moves it with the master (docs/ha.md)"]
    }

    /// The advert interval range in milliseconds (VRRPv3: 1...4095 centiseconds).
    public static let advertIntervalRange = 10...40950

    /// The VRRP instances keepalived runs for `links`, in order: one per link (its outer
    /// address on the underlay, its inner address on its vxlan device; the first link's
    /// also the floating SNAT address), then the backend next hop's. They go in one sync
    /// group so they move together.
    public func instances(links: [VPGLink]) -> [VRRPInstance] {
        var out: [VRRPInstance] = []
        for l in links {
            let outer = IPPrefix(address: l.outerIpAddress, length: nodeAddress.length)!
            var addresses = [VirtualAddress(prefix: outer, device: interface), VirtualAddress(prefix: l.innerIpAddress, device: l.name)]
            if out.isEmpty, let snat { addresses.append(snat) }
            out.append(VRRPInstance(name: "gatepeer_link_\(l.name)", routerId: virtualRouterId + out.count, addresses: addresses))
        }
        if let backend {
            out.append(VRRPInstance(name: "gatepeer_backend", routerId: virtualRouterId + out.count, addresses: [backend]))
        }
        return out
    }

    /// Every address keepalived moves for `links` (the instances' addresses in order).
    public func movingAddresses(links: [VPGLink]) -> [VirtualAddress] {
        instances(links: links).flatMap(\.addresses)
    }
}
