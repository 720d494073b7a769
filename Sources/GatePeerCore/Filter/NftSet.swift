/// A named set, or a verdict map (`verdictMap`): key type, flags, per-element counters
/// and the elements nft parses (nft text).
public struct NftSet: Equatable, Sendable {
    /// The set's name in the table (NftNames).
    public var name: String
    /// The key's types, concatenated (`ipv4_addr . inet_proto`).
    public var key: [NftDataType]
    /// `type KEY : verdict`: each element carries a verdict.
    public var verdictMap: Bool
    /// `interval` (prefixes and ranges; the kernel picks nft_set_rbtree for a single key,
    /// nft_set_pipapo for a concatenation) and `timeout` (elements expire).
    public var flags: [NftSetFlag]
    /// `counter`: every element counts its packets and bytes.
    public var counter: Bool
    /// Elements declared with the set, as nft text (one per item).
    public var elements: [String]

    /// Values as documented on the properties.
    public init(_ name: String, key: [NftDataType], verdictMap: Bool = false, flags: [NftSetFlag] = [], counter: Bool = false, elements: [String] = []) {
        self.name = name
        self.key = key
        self.verdictMap = verdictMap
        self.flags = flags
        self.counter = counter
        self.elements = elements
    }

    /// nft's text of the key type.
    public var keyText: String { key.map(\.rawValue).joined(separator: " . ") }

    func write(to out: inout String, leading: String?) {
        out += "  \(verdictMap ? "map" : "set") \(name) {\n"
        if let l = leading { out += "    elements = { " + l + " }\n" }
        out += "    type " + keyText + (verdictMap ? " : verdict\n" : "\n")
        if !flags.isEmpty { out += "    flags " + flags.map(\.rawValue).joined(separator: ",") + "\n" }
        if counter { out += "    counter\n" }
        if !elements.isEmpty { out += "    elements = { " + elements.joined(separator: ", ") + " }\n" }
        out += "  }\n"
    }
}
