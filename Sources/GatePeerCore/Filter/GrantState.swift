/// The grants state file: JSON, written 0600 by the CLI.
public enum GrantState {
    /// The grants of a state file, or every problem with its path (`grants[N].FIELD`); a
    /// file that is not `{"grants": [...]}` is one problem at `grants`.
    public static func decode(_ text: String) -> Result<[Grant], ConfigError> {
        guard let (doc, _) = try? JSONReader.parse(text), case .array(let items)? = doc["grants"] else {
            return .failure(ConfigError(problems: [ConfigProblem("grants", "state file is not {\"grants\": [...]}")]))
        }
        var out: [Grant] = []
        var p = Problems()
        for (i, item) in items.enumerated() {
            let path = "grants[\(i)]"
            guard let o = ObjectReader(item, path: path, &p) else { continue }
            let from = o.string("from", required: true, &p).flatMap { FieldReader.network($0, "\(path).from", field: .filterMatch, &p) }
            let to = o.string("to", required: true, &p).flatMap { FieldReader.network($0, "\(path).to", field: .filterMatch, &p) }
            let proto = FieldReader.protocolMatch(o, path: path, &p)
            let ports = FieldReader.ports(o, path: path, protocolMatch: proto, &p)
            var expires: Int64? = nil
            if case .number(let t)? = o.value("expires", &p) { expires = Int64(t) } else { p.add("\(path).expires", "is required") }
            o.finish(&p, known: ["from", "to", "protocol", "ports", "expires"])
            if let from, let to, let proto, let ports, let expires {
                out.append(Grant(from: from, to: to, protocolMatch: proto, ports: ports, expires: expires))
            }
        }
        return p.result(out)
    }

    /// grants.json: one compact object per line, so the file stays about as large as the
    /// grants (pretty-printing grew a compact 10.3 MB file to 17.1 MB, over the read
    /// limit) and still reads and diffs line by line.
    public static func encode(_ grants: [Grant]) -> String {
        let lines = grants.map { g in
            var d: [String: JSONOut] = ["from": .string(g.from.description), "to": .string(g.to.description), "expires": .int(g.expires)]
            if case .number(let n) = g.protocolMatch { d["protocol"] = .int(Int64(n)) }
            if !g.ports.isEmpty { d["ports"] = .array(g.ports.map { .string("\($0.low)-\($0.high)") }) }
            return JSONOut.object(d).render(pretty: false)
        }
        return lines.isEmpty ? "{\"grants\": []}\n" : "{\"grants\": [\n" + lines.joined(separator: ",\n") + "\n]}\n"
    }

    /// The set elements of `grants` (the active ones), each with the time left to the
    /// millisecond (`nowMs`: since the epoch), so the kernel drops it at `expires`
    /// itself; whole seconds would let a re-applied grant outlive its time by up to 1 s.
    public static func elements(_ grants: [Grant], nowMs: Int64) -> [NftElement] {
        grants.filter { $0.expires * 1000 > nowMs }.flatMap { keys($0, timeoutMs: max(1, $0.expires * 1000 - nowMs)) }
    }

    /// The keys of `g` (no timeout), to delete it.
    public static func deleteElements(_ g: Grant) -> [NftElement] { keys(g, timeoutMs: nil) }

    private static func keys(_ g: Grant, timeoutMs: Int64?) -> [NftElement] {
        let pair: [NftElement.Field] = [.prefix(g.from), .prefix(g.to)]
        switch (g.protocolMatch, g.ports.isEmpty) {
        case (.any, _):
            return [NftElement(set: NftNames.grants(g.from.family, .address), key: pair, interval: true, timeoutMs: timeoutMs)]
        case (.number(let n), true):
            return [NftElement(set: NftNames.grants(g.from.family, .proto), key: pair + [.proto(n)], interval: true, timeoutMs: timeoutMs)]
        case (.number(let n), false):
            return g.ports.map { NftElement(set: NftNames.grants(g.from.family, .ports), key: pair + [.proto(n), .ports($0)], interval: true, timeoutMs: timeoutMs) }
        }
    }
}
