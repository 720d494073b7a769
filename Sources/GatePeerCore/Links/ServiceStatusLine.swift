/// The one line `systemctl status gatepeer` shows under "Status:" while the daemon runs
/// (sd_notify's STATUS=), for a person: "2 links, 4 peers up, filter loaded, last repair
/// 12s ago". Built from the running config, the VPG gate peers' liveness and the
/// daemon's counters; the daemon sends it when the text changes.
public struct ServiceStatusLine: Equatable, Sendable {
    /// Links (vxlan devices) in the running config.
    public var links: Int
    /// VPG gate peers in the running config, over all links.
    public var configuredPeers: Int
    /// Their liveness as the daemon judges it; empty when nothing probes them (then
    /// the line counts configured peers, without a state).
    public var peers: [PeerLiveness]
    /// The running config has a filter (nftables table).
    public var filter: Bool
    /// What the last reconcile pass left standing (blockers, refused changes, a failed
    /// kernel read), each one line; nil before the first pass, empty once converged.
    public var problems: [String]?
    /// Seconds since the daemon last repaired drift; nil when it has not.
    public var secondsSinceRepair: Double?
    /// Why the last reload (SIGHUP) was refused, while the config before it still runs;
    /// nil when the last reload was taken (or there was none).
    public var reloadRefused: String?

    /// Each field as documented on it.
    public init(links: Int, configuredPeers: Int, peers: [PeerLiveness] = [], filter: Bool, problems: [String]?,
                secondsSinceRepair: Double? = nil, reloadRefused: String? = nil) {
        self.links = links
        self.configuredPeers = configuredPeers
        self.peers = peers
        self.filter = filter
        self.problems = problems
        self.secondsSinceRepair = secondsSinceRepair
        self.reloadRefused = reloadRefused
    }

    /// At most this many characters: systemctl shows one line, and a blocker quoting a long
    /// kernel message must not fill the terminal.
    public static let limit = 200

    /// The line: "starting: first converge of 2 links" before the first pass; then the
    /// counts, "filter loaded" (or "no filter") when converged, else "not converged:"
    /// with the first problem and how many more; the age of the last repair; a refused
    /// reload last. One line (Echo.line), cut at `limit`.
    public var text: String {
        var parts = [Self.count(links, "link")]
        guard let problems else { return Self.oneLine("starting: first converge of " + parts[0]) }
        parts.append(peerPart)
        if let first = problems.first {
            parts.append("not converged: " + first + (problems.count > 1 ? " (+\(problems.count - 1) more)" : ""))
        } else {
            parts.append(filter ? "filter loaded" : "no filter")
        }
        parts.append(secondsSinceRepair.map { "last repair \(Self.age($0)) ago" } ?? "no repairs")
        var line = parts.joined(separator: ", ")
        if let reloadRefused { line += "; last reload refused: " + reloadRefused }
        return Self.oneLine(line)
    }

    /// "4 peers up"; "2/4 peers up, 1 down, 1 probing" (probing: not judged yet); "4
    /// peers" when nothing probes them.
    private var peerPart: String {
        guard !peers.isEmpty else { return Self.count(configuredPeers, "peer") }
        let up = peers.filter { $0.state == .up }.count, down = peers.filter { $0.state == .down }.count
        if up == peers.count { return Self.count(up, "peer") + " up" }
        let probing = peers.count - up - down
        return "\(up)/\(peers.count) peers up" + (down > 0 ? ", \(down) down" : "") + (probing > 0 ? ", \(probing) probing" : "")
    }

    /// Echo.line (no control or newline can reach systemd's one line), cut at `limit`
    /// characters with "...".
    private static func oneLine(_ s: String) -> String {
        let line = Echo.line(s)
        return line.count <= limit ? line : String(line.prefix(limit - 3)) + "..."
    }

    private static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    /// "12s" under two minutes, "7min" under two hours, "5h" under two days, then "3d":
    /// coarse enough that the line changes at most once a second and rarely after that.
    static func age(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        if s < 120 { return "\(s)s" }
        if s < 7200 { return "\(s / 60)min" }
        if s < 172_800 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }
}
