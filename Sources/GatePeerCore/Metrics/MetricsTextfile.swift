/// Where `gatepeer run` writes its metrics for node_exporter's textfile collector: the
/// config's top-level `metrics.textfile`.
public enum MetricsTextfile: Equatable, Sendable {
    /// No `metrics.textfile`: `defaultPath` when its directory exists (node_exporter's
    /// Debian package made it) and the daemon runs in the system's own network namespace,
    /// else no file. Not in another namespace: node_exporter reads one file per name, and
    /// daemons of several namespaces would overwrite each other's.
    case automatic
    /// An absolute path ending in `.prom` (the collector reads only those), written
    /// 0644 by atomic rename.
    case path(String)
    /// `"textfile": false`: no file.
    case off

    /// Debian's prometheus-node-exporter textfile directory, and the file gatepeer writes there.
    public static let defaultDirectory = "/var/lib/prometheus/node-exporter"
    public static let defaultPath = defaultDirectory + "/gatepeer.prom"

    /// The `metrics` section at `path` ("metrics"): {"textfile": "/path/x.prom" | false};
    /// problems reported to `p` name the field and what is valid.
    static func decode(_ v: JSONValue, path: String, _ p: inout Problems) -> MetricsTextfile? {
        guard let o = ObjectReader(v, path: path, &p) else { return nil }
        defer { o.finish(&p, known: ["textfile"]) }
        guard let t = o.value("textfile", &p) else { return .automatic }
        let valid = "valid: an absolute path ending in .prom (e.g. \(defaultPath)), or false for no file"
        switch t {
        case .bool(false): return .off
        case .string(let s):
            // split drops empty parts, so the name is what follows the last slash itself: a
            // trailing slash ("/x.prom/") leaves none and is refused, as the kernel would.
            let name = s.hasSuffix("/") ? "" : s.split(separator: "/").last.map(String.init) ?? ""
            guard s.hasPrefix("/"), name.hasSuffix(".prom"), name.count > 5, !name.hasPrefix("."), s.utf8.count < 4096,
                  !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }),
                  !s.split(separator: "/").contains(where: { $0 == ".." }) else {
                p.add("\(path).textfile", "\(Echo.quoted(s)) is not usable; \(valid)")
                return nil
            }
            return .path(s)
        default:
            p.add("\(path).textfile", "is \(t.typeName); \(valid)")
            return nil
        }
    }

    /// The file to write now: the configured path, the default when the daemon runs in
    /// the system's own network namespace (`hostNamespace`) and the default directory
    /// exists (`directoryExists`), or nil.
    public func target(hostNamespace: Bool, directoryExists: (String) -> Bool) -> String? {
        switch self {
        case .path(let p): return p
        case .off: return nil
        case .automatic:
            return hostNamespace && directoryExists(MetricsTextfile.defaultDirectory) ? MetricsTextfile.defaultPath : nil
        }
    }
}
