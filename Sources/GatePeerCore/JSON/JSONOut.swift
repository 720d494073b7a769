/// JSON for `--json` output: keys sorted so output is stable for scripts and diffs.
public indirect enum JSONOut: Equatable, Sendable {
    case object([String: JSONOut])
    case array([JSONOut])
    case string(String)
    case int(Int64)
    case uint(UInt64)
    /// A fractional number (seconds, Unix times); NaN and infinities, which JSON cannot
    /// hold, are written as null.
    case double(Double)
    case bool(Bool)
    case null

    /// JSON text, keys sorted: indented by two spaces per level when `pretty`, else on one line.
    public func render(pretty: Bool = true) -> String {
        var out = ""
        write(into: &out, indent: pretty ? 0 : nil)
        return out
    }

    private func write(into out: inout String, indent: Int?) {
        let nl = indent == nil ? "" : "\n"
        let pad = { (n: Int) in indent == nil ? "" : String(repeating: "  ", count: n) }
        switch self {
        case .object(let d):
            if d.isEmpty { out += "{}"; return }
            out += "{" + nl
            for (i, k) in d.keys.sorted().enumerated() {
                out += pad((indent ?? 0) + 1) + JSONOut.quote(k) + (indent == nil ? ":" : ": ")
                d[k]!.write(into: &out, indent: indent.map { $0 + 1 })
                out += (i < d.count - 1 ? "," : "") + nl
            }
            out += pad(indent ?? 0) + "}"
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "[" + nl
            for (i, v) in a.enumerated() {
                out += pad((indent ?? 0) + 1)
                v.write(into: &out, indent: indent.map { $0 + 1 })
                out += (i < a.count - 1 ? "," : "") + nl
            }
            out += pad(indent ?? 0) + "]"
        case .string(let s): out += JSONOut.quote(s)
        case .int(let n): out += String(n)
        case .uint(let n): out += String(n)
        case .double(let d): out += d.isFinite ? "\(d)" : "null"
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                // Beyond the C0 controls JSON requires: C1, DEL and the bidi controls
                // too (Echo), as --json output is read on terminals as well.
                if Echo.needsEscape(u, keepNewlines: false) {
                    out += Echo.escaped(u)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
