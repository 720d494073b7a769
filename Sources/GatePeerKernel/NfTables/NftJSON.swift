import GatePeerCore

/// Reading libnftables' JSON listings ({"nftables": [{"metainfo": ...}, {"counter": {...}}, ...]}).
enum NftJSON {
    static func objects(_ text: String, kind: String) -> [JSONValue] {
        guard let (doc, _) = try? JSONReader.parse(text), case .array(let items)? = doc["nftables"] else { return [] }
        return items.compactMap { $0[kind] }
    }

    static func uint(_ v: JSONValue?) -> UInt64 {
        if case .number(let t)? = v { return UInt64(t) ?? 0 }
        return 0
    }

    /// An element key: "10.0.0.1", {"prefix": {"addr", "len"}} or {"range": [low, high]}.
    static func lowAddress(_ v: JSONValue?) -> IPAddress? {
        switch v {
        case .string(let s)?: return IPAddress(s)
        case .object?:
            if let p = v?["prefix"], case .string(let a)? = p["addr"] { return IPAddress(a) }
            if case .array(let r)? = v?["range"], case .string(let a)? = r.first { return IPAddress(a) }
            return nil
        default: return nil
        }
    }
}
