/// One element of a set or verdict map in table inet gatepeer: a grant's or a learned
/// address's. Both forms are made from it: nft text, declared inline when the table is
/// staged, and the raw key bytes gatepeer sends over netlink when elements are added
/// to or deleted from a loaded table. (libnftables loads every element of every table
/// into its cache before an `add element` to an interval set: about 0.4 s with a
/// 100,000-rule policy, for one grant or one refreshed DNS answer.)
public struct NftElement: Equatable, Sendable {
    /// One field of a key, in the set's key order; on the wire each is padded to 4 bytes
    /// (NFT_REG32_SIZE), addresses in network byte order.
    public enum Field: Equatable, Sendable {
        /// An address range: from the network to the last address.
        case prefix(IPPrefix)
        case address(IPAddress)
        case proto(UInt8)
        case ports(PortRange)
        /// Key bytes read back from the kernel that fit no known layout: start and end
        /// (end empty outside interval sets), in the kernel's layout.
        case raw([UInt8], [UInt8])
    }

    /// The set or map the element belongs to (NftNames).
    public var set: String
    /// The key's fields in the set's key order.
    public var key: [Field]
    /// The set is `flags interval` with a concatenated key (nft's pipapo sets): the
    /// kernel takes a key and a key end per element, not two elements.
    public var interval: Bool
    /// Per-element timeout in milliseconds (NFTA_SET_ELEM_TIMEOUT) for sets with `flags
    /// timeout`; nil: no timeout.
    public var timeoutMs: Int64?
    /// The verdict of a verdict-map element: goto this chain.
    public var gotoChain: String?

    /// Values as documented on the properties.
    public init(set: String, key: [Field], interval: Bool, timeoutMs: Int64? = nil, gotoChain: String? = nil) {
        self.set = set
        self.key = key
        self.interval = interval
        self.timeoutMs = timeoutMs
        self.gotoChain = gotoChain
    }

    /// nft's text of the key: "10.128.0.11/32 . 203.0.113.10/32 . 6 . 22".
    public var keyText: String {
        key.map { f -> String in
            switch f {
            case .prefix(let p): return p.network.description
            case .address(let a): return a.description
            case .proto(let n): return "\(n)"
            case .ports(let r): return r.portText
            case .raw(let a, let b): return "0x" + (b.isEmpty ? NftElement.hex(a) : NftElement.hex(a) + "-0x" + NftElement.hex(b))
            }
        }.joined(separator: " . ")
    }

    /// The element as nft text inside `{ }`: key, timeout, verdict.
    public var text: String {
        var s = keyText
        if let t = timeoutMs {
            // "expires" too: re-adding an element with an unchanged timeout does not
            // reset its expiry (checked on 6.18), so a renewal would not extend it.
            let v = NftTime.text(t)
            s += " timeout \(v) expires \(v)"
        }
        if let c = gotoChain { s += " : goto \(c)" }
        return s
    }

    /// The key as the kernel stores it: each field in network byte order, padded to a
    /// multiple of 4 bytes (registers are 32 bits wide and concatenations are laid out
    /// register by register). `end`: the last value of each field, for interval sets.
    public func keyBytes(end: Bool) -> [UInt8] {
        var out: [UInt8] = []
        for f in key {
            switch f {
            case .prefix(let p): out += (end ? p.lastAddress : p.network.address).bytes
            case .address(let a): out += a.bytes
            case .proto(let n): out += [n, 0, 0, 0]
            case .ports(let r):
                let v = end ? r.high : r.low
                out += [UInt8(v >> 8), UInt8(v & 0xff), 0, 0]
            case .raw(let a, let b): out += end && !b.isEmpty ? b : a
            }
        }
        return out
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { b in String(b >> 4, radix: 16) + String(b & 0xf, radix: 16) }.joined()
    }
}
