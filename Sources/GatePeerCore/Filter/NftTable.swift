/// An nftables table as a value: its sets and maps (key type, flags, elements), named
/// counters and chains (hook, priority, policy, rules), in declaration order. NftRenderer
/// builds one; it renders to the nft text libnftables parses (`text`) and names the sets
/// the loader fills with raw elements, so no code searches rendered text for a set.
/// `refusal(of:)` says whether an element fits a declared set; the tests use it as the
/// oracle for every element shape the loader sends (NftTableTests), the loader does not
/// call it per element (a declaration scan per element on the hot path).
///
/// Rules and inline elements are nft text: libnftables compiles them into expressions
/// (the loader reads the compiled table back over netlink, Kernel.loadFilter).
public struct NftTable: Equatable, Sendable {
    /// nft address family of the table: `inet` (IPv4 and IPv6 in one table).
    public var family: String
    /// The table's name: NftNames.table, or NftNames.stagingTable for the staging copy.
    public var name: String
    /// `flags dormant`: the table's base chains are not registered with their hooks (the
    /// staging copy, which must never see a packet).
    public var dormant: Bool
    /// Sets, maps, counters and chains in the order the text declares them (nft resolves
    /// names within one transaction, but the order is what the fingerprints cover).
    public var declarations: [NftDeclaration]

    /// Defaults: table inet gatepeer, active, empty.
    public init(family: String = NftNames.family, name: String = NftNames.table, dormant: Bool = false, declarations: [NftDeclaration] = []) {
        self.family = family
        self.name = name
        self.dormant = dormant
        self.declarations = declarations
    }

    /// The set or map named `name`, if declared.
    public func set(named name: String) -> NftSet? {
        for case .set(let s) in declarations where s.name == name { return s }
        return nil
    }

    /// The chains, in declaration order.
    public var chains: [NftChain] {
        declarations.compactMap { if case .chain(let c) = $0 { return c } else { return nil } }
    }

    /// The names of the named counters, in declaration order.
    public var counters: [String] {
        declarations.compactMap { if case .counter(let c) = $0 { return c } else { return nil } }
    }

    /// The table as nft text (ends in a newline).
    public var text: String { text(leading: [:]) }

    /// The table as nft text, with `leading[set]` (an elements list as nft text) declared
    /// first in that set's block: the destination maps' elements for `filter show`, grant
    /// and learned elements in the staging copy.
    public func text(leading: [String: String]) -> String {
        var out = head
        for d in declarations { d.write(to: &out, leading: leading) }
        out += "}\n"
        return out
    }

    /// The first line, and `flags dormant` for a dormant table.
    var head: String { "table \(family) \(name) {\n" + (dormant ? "  flags dormant\n" : "") }

    /// Why `e` does not fit this table, nil when it does: its set must be declared with
    /// its key's types, `flags interval` exactly when the element is an interval, and a
    /// verdict map whose goto chain is declared exactly when it has one. The kernel
    /// would refuse such an element (ENOENT, EINVAL) or, worse, store bytes of another layout.
    public func refusal(of e: NftElement) -> String? {
        guard let s = set(named: e.set) else { return "no set \(e.set) in table \(family) \(name)" }
        let types = e.key.map(\.dataType)
        if types.contains(nil) { return "element of \(e.set) has a raw key" }
        if types.compactMap({ $0 }) != s.key { return "set \(e.set) has type \(s.keyText), element \(e.keyText) does not" }
        if e.interval != s.flags.contains(.interval) { return "set \(e.set) \(e.interval ? "is not" : "is") an interval set" }
        if e.timeoutMs != nil && !s.flags.contains(.timeout) { return "set \(e.set) has no timeouts" }
        switch (e.gotoChain, s.verdictMap) {
        case (nil, false): return nil
        case (let c?, true): return chains.contains { $0.name == c } ? nil : "no chain \(c) for element of \(e.set)"
        case (nil, true): return "map \(e.set) needs a verdict"
        case (_?, false): return "set \(e.set) is not a verdict map"
        }
    }
}

extension NftElement.Field {
    /// The nft type of the field; nil for raw bytes.
    var dataType: NftDataType? {
        switch self {
        case .prefix(let p): return .address(p.family)
        case .address(let a): return .address(a.family)
        case .proto: return .proto
        case .ports: return .service
        case .raw: return nil
        }
    }
}
