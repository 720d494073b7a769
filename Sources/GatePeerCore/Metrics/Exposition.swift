/// Prometheus text exposition format 0.0.4, the format node_exporter's textfile
/// collector reads: per family a `# HELP` and a `# TYPE` line, then its samples
/// `name{label="value",...} value`, each family's samples together.
public struct Exposition: Sendable {
    /// The metric types gatepeer uses.
    public enum Kind: String, Sendable {
        case counter, gauge
    }

    /// One metric family: a name, what it means, its type and its samples.
    public struct Family: Sendable {
        /// The full name, e.g. `gatepeer_link_receive_bytes_total`.
        public var name: String
        /// The HELP text (one line; a backslash or newline is escaped).
        public var help: String
        public var kind: Kind
        /// The samples: labels in the order written, and the value.
        public var samples: [(labels: [(String, String)], value: Value)]
    }

    /// A sample's value: whole counts are written exactly (a Double would round counters
    /// above 2^53), fractional ones (seconds) as Go's ParseFloat reads them.
    public enum Value: Sendable, Equatable {
        case count(UInt64)
        case real(Double)

        var text: String {
            switch self {
            case .count(let n): return String(n)
            case .real(let d):
                if d.isNaN { return "NaN" }
                if d.isInfinite { return d > 0 ? "+Inf" : "-Inf" }
                return "\(d)"
            }
        }
    }

    /// The families in the order they are written.
    public private(set) var families: [Family] = []

    /// An empty exposition.
    public init() {}

    /// Adds a family; one without samples is left out (HELP and TYPE of a metric that is
    /// not there would only confuse a reader).
    public mutating func add(_ name: String, _ kind: Kind, _ help: String, _ samples: [(labels: [(String, String)], value: Value)]) {
        guard !samples.isEmpty else { return }
        families.append(Family(name: name, help: help, kind: kind, samples: samples))
    }

    /// Adds a family of one sample without labels.
    public mutating func add(_ name: String, _ kind: Kind, _ help: String, _ value: Value) {
        add(name, kind, help, [([], value)])
    }

    /// The exposition text, ending in a newline (empty when there is no family).
    public var text: String {
        var out = ""
        for f in families {
            out += "# HELP \(f.name) \(Exposition.escape(f.help, quote: false))\n# TYPE \(f.name) \(f.kind.rawValue)\n"
            for s in f.samples {
                out += f.name
                if !s.labels.isEmpty {
                    out += "{" + s.labels.map { "\($0.0)=\"\(Exposition.escape($0.1, quote: true))\"" }.joined(separator: ",") + "}"
                }
                out += " \(s.value.text)\n"
            }
        }
        return out
    }

    /// A HELP text or label value as the format requires: backslash and newline escaped,
    /// and in label values the double quote too.
    static func escape(_ s: String, quote: Bool) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"" where quote: out += "\\\""
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
