/// What a running `gatepeer run` knows that the kernel does not hold: its pid and start
/// time, its counters and the liveness of every VPG gate peer. The daemon writes it to
/// `<state directory>/runtime.json` (0600, replaced atomically, at most about once a
/// second); `status` and `metrics` read it. A report is only believed while `pid` is the
/// live daemon of the same network namespace (the holder of its daemon lock): a report
/// left by a daemon that died is stale, and its peers are then "unknown".
public struct RuntimeReport: Equatable, Sendable {
    /// The version of the file's shape; a reader refuses another one.
    public static let version: UInt64 = 1
    /// Seconds between two writes at most while the daemon runs (more often while peers
    /// are probed or anything changes).
    public static let heartbeat = 2.0
    /// A report not rewritten for this many seconds (several heartbeats, and longer than
    /// a long converge pass keeps the daemon's queue) is stale: its daemon is stopped
    /// (SIGSTOP), hung, or cannot write it.
    public static let staleAfter = 15.0

    /// The daemon's process id.
    public var pid: Int32
    /// When the daemon process started, Unix time in seconds (from /proc/PID/stat, so a
    /// reader can tell a reused pid).
    public var startTime: Double
    /// When this report was written, Unix time in seconds.
    public var written: Double
    /// The daemon's counters since it started.
    public var counters: DaemonCounters
    /// One entry per configured VPG gate peer (link, outer address), in config order.
    public var peers: [PeerLiveness]
    /// Per link name: why its peers cannot be probed at all (the probe socket cannot be
    /// opened, e.g. without CAP_NET_RAW), as the liveness service says it; absent for a
    /// link that probes. Such a link's peers stay unknown, and `status` is degraded.
    public var livenessProblems: [String: String]

    /// A report as the daemon fills it.
    public init(pid: Int32, startTime: Double, written: Double, counters: DaemonCounters, peers: [PeerLiveness],
                livenessProblems: [String: String] = [:]) {
        self.pid = pid
        self.startTime = startTime
        self.written = written
        self.counters = counters
        self.peers = peers
        self.livenessProblems = livenessProblems
    }

    /// Whether the report is too old to describe its daemon at `now` (Unix seconds):
    /// written more than `staleAfter` seconds ago, or in the future beyond it (the clock
    /// was set back).
    public func isStale(now: Double) -> Bool { abs(now - written) > RuntimeReport.staleAfter }

    /// The file's content: one JSON object, keys sorted.
    public var json: JSONOut {
        let c = counters
        var repairs: [String: JSONOut] = [:]
        for (k, v) in c.repairs { repairs[k] = .uint(v) }
        var passes: [String: JSONOut] = [:]
        for (k, v) in c.passes { passes[k] = .uint(v) }
        let counterObject: JSONOut = .object([
            "applies": .uint(c.applies), "changesApplied": .uint(c.changesApplied), "repairs": .object(repairs),
            "failures": .uint(c.failures), "configLoadErrors": .uint(c.configLoadErrors), "reloads": .uint(c.reloads),
            "events": .uint(c.events), "eventOverruns": .uint(c.eventOverruns), "peerFlushes": .uint(c.peerFlushes),
            "ownEvents": .uint(c.ownEvents), "passes": .object(passes),
            "lastConverged": c.lastConverged.map { .double($0) } ?? .null,
        ])
        let peerObjects: [JSONOut] = peers.map { p in
            var o = p.livenessMembers(rttSeconds: p.rttSeconds)
            o["link"] = .string(p.link)
            o["outerIpAddress"] = .string(p.outerIpAddress.description)
            o["probeTarget"] = p.probeTarget.map { .string($0.description) } ?? .null
            return .object(o)
        }
        return .object(["version": .uint(RuntimeReport.version), "pid": .int(Int64(pid)), "startTime": .double(startTime),
                        "written": .double(written), "counters": counterObject, "peers": .array(peerObjects),
                        "livenessProblems": .object(livenessProblems.mapValues { .string($0) })])
    }

    /// The report `text` holds. Throws RuntimeReportError naming the first field that is
    /// missing or not what `json` writes (the file is the daemon's, so anything else is
    /// damage or another version).
    public static func decode(_ text: String) throws(RuntimeReportError) -> RuntimeReport {
        let root: JSONValue
        do {
            root = try JSONReader.parse(text).0
        } catch {
            throw RuntimeReportError(field: "", problem: "not valid JSON: \(error)")
        }
        let r = Fields(root, path: "")
        guard try r.uint("version") == version else {
            throw RuntimeReportError(field: "version", problem: "not \(version), the version this gatepeer reads")
        }
        guard let pid = Int32(exactly: try r.uint("pid")) else { throw RuntimeReportError(field: "pid", problem: "out of range") }
        let c = Fields(try r.member("counters"), path: "counters")
        var counters = DaemonCounters()
        counters.applies = try c.uint("applies")
        counters.changesApplied = try c.uint("changesApplied")
        counters.failures = try c.uint("failures")
        counters.configLoadErrors = try c.uint("configLoadErrors")
        counters.reloads = try c.uint("reloads")
        counters.events = try c.uint("events")
        counters.eventOverruns = try c.uint("eventOverruns")
        counters.peerFlushes = try c.uint("peerFlushes")
        counters.lastConverged = try c.optionalDouble("lastConverged")
        guard case .object(let repairs) = try c.member("repairs") else {
            throw RuntimeReportError(field: "counters.repairs", problem: "not an object")
        }
        let rr = Fields(.object(repairs), path: "counters.repairs")
        for m in repairs { counters.repairs[m.key] = try rr.uint(m.key) }
        // Added after the first daemons with this version: absent means none counted.
        if c.value["ownEvents"] != nil { counters.ownEvents = try c.uint("ownEvents") }
        if let p = c.value["passes"] {
            guard case .object(let passes) = p else { throw RuntimeReportError(field: "counters.passes", problem: "not an object") }
            let pp = Fields(p, path: "counters.passes")
            for m in passes { counters.passes[m.key] = try pp.uint(m.key) }
        }
        guard case .array(let items) = try r.member("peers") else { throw RuntimeReportError(field: "peers", problem: "not an array") }
        var peers: [PeerLiveness] = []
        for (i, item) in items.enumerated() {
            let p = Fields(item, path: "peers[\(i)]")
            guard let outer = IPAddress(try p.string("outerIpAddress")) else {
                throw RuntimeReportError(field: "peers[\(i)].outerIpAddress", problem: "not an IP address")
            }
            let target = try p.optionalString("probeTarget").map { t throws(RuntimeReportError) -> IPAddress in
                guard let a = IPAddress(t) else { throw RuntimeReportError(field: "peers[\(i)].probeTarget", problem: "not an IP address") }
                return a
            }
            guard let state = PeerLiveness.State(rawValue: try p.string("state")) else {
                throw RuntimeReportError(field: "peers[\(i)].state", problem: "not up, down, unknown or standby")
            }
            peers.append(PeerLiveness(link: try p.string("link"), outerIpAddress: outer, probeTarget: target, state: state,
                                      since: try p.optionalDouble("since"), rttSeconds: try p.optionalDouble("rttSeconds"),
                                      probesSent: try p.uint("probesSent"), probesLost: try p.uint("probesLost"),
                                      transitions: try p.uint("transitions")))
        }
        // Absent in reports of a daemon from before the field: none known.
        var problems: [String: String] = [:]
        if case .object(let members)? = root["livenessProblems"] {
            let lp = Fields(.object(members), path: "livenessProblems")
            for m in members { problems[m.key] = try lp.string(m.key) }
        }
        return RuntimeReport(pid: pid, startTime: try r.double("startTime"), written: try r.double("written"),
                             counters: counters, peers: peers, livenessProblems: problems)
    }

    /// The members of one object of the report, each read with the path for the error.
    private struct Fields {
        let value: JSONValue
        let path: String
        init(_ value: JSONValue, path: String) {
            self.value = value
            self.path = path
        }

        func name(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

        func member(_ key: String) throws(RuntimeReportError) -> JSONValue {
            guard case .object = value else { throw RuntimeReportError(field: path, problem: "not an object") }
            guard let v = value[key] else { throw RuntimeReportError(field: name(key), problem: "missing") }
            return v
        }

        func uint(_ key: String) throws(RuntimeReportError) -> UInt64 {
            guard case .number(let t) = try member(key), let n = UInt64(t) else {
                throw RuntimeReportError(field: name(key), problem: "not a whole number from 0 to \(UInt64.max)")
            }
            return n
        }

        func optionalDouble(_ key: String) throws(RuntimeReportError) -> Double? {
            switch try member(key) {
            case .null: return nil
            case .number(let t):
                if let d = Double(t), d.isFinite { return d }
            default: break
            }
            throw RuntimeReportError(field: name(key), problem: "not a number or null")
        }

        func double(_ key: String) throws(RuntimeReportError) -> Double {
            guard let d = try optionalDouble(key) else { throw RuntimeReportError(field: name(key), problem: "not a number") }
            return d
        }

        func optionalString(_ key: String) throws(RuntimeReportError) -> String? {
            switch try member(key) {
            case .null: return nil
            case .string(let s): return s
            default: throw RuntimeReportError(field: name(key), problem: "not a string or null")
            }
        }

        func string(_ key: String) throws(RuntimeReportError) -> String {
            guard let s = try optionalString(key) else { throw RuntimeReportError(field: name(key), problem: "not a string") }
            return s
        }
    }
}

/// Why a runtime report cannot be read: the field (a JSON path, empty for the whole file)
/// and what is wrong with it.
public struct RuntimeReportError: Error, Equatable, CustomStringConvertible {
    /// JSON path of the field, such as `peers[0].state`; empty for the document.
    public let field: String
    /// What is wrong with it.
    public let problem: String
    /// `field: problem`, or only the problem for the whole document.
    public var description: String { field.isEmpty ? problem : "\(field): \(problem)" }
}

extension PeerLiveness {
    /// The RTT to show and export: the last answered probe's while the peer is up; nil
    /// otherwise (a down peer's last RTT describes a path that no longer answers).
    public var currentRTT: Double? { state == .up ? rttSeconds : nil }

    /// The liveness members runtime.json and `status --json` both write: state, since,
    /// rttSeconds (`rttSeconds`: the caller's choice of raw or current), probesSent,
    /// probesLost, transitions.
    public func livenessMembers(rttSeconds: Double?) -> [String: JSONOut] {
        ["state": .string(state.rawValue), "since": since.map { .double($0) } ?? .null,
         "rttSeconds": rttSeconds.map { .double($0) } ?? .null,
         "probesSent": .uint(probesSent), "probesLost": .uint(probesLost), "transitions": .uint(transitions)]
    }
}
