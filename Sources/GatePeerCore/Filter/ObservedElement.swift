/// One element of a set with timeouts as the kernel holds it: the key (and key end of a
/// concatenated interval set) in the kernel's layout, and the goto chain of a verdict map.
public struct ObservedElement: Equatable, Hashable, Sendable {
    /// The set's name in table inet gatepeer.
    public var set: String
    /// NFTA_SET_ELEM_KEY's value, as dumped.
    public var key: [UInt8]
    /// NFTA_SET_ELEM_KEY_END's value; empty outside concatenated interval sets.
    public var keyEnd: [UInt8]
    /// NFTA_DATA_VERDICT's chain for a goto verdict; nil for plain sets.
    public var gotoChain: String?
    /// NFTA_SET_ELEM_EXPIRATION as dumped: milliseconds until the kernel drops it; nil
    /// without a timeout. Not part of equality (it runs down); carried by `element` so an
    /// element re-added from what the kernel held keeps its deadline, never becomes permanent.
    public var expiresMs: Int64?
    /// An element as the kernel layer decodes it.
    public init(set: String, key: [UInt8], keyEnd: [UInt8], gotoChain: String?, expiresMs: Int64? = nil) {
        self.set = set
        self.key = key
        self.keyEnd = keyEnd
        self.gotoChain = gotoChain
        self.expiresMs = expiresMs
    }

    /// Same set, key, key end and chain (`expiresMs` runs down and is left out).
    public static func == (a: ObservedElement, b: ObservedElement) -> Bool {
        a.set == b.set && a.key == b.key && a.keyEnd == b.keyEnd && a.gotoChain == b.gotoChain
    }

    /// The fields of `==`.
    public func hash(into h: inout Hasher) {
        h.combine(set)
        h.combine(key)
        h.combine(keyEnd)
        h.combine(gotoChain)
    }

    /// What the kernel would hold for `e` (NftBatch.elements sends exactly these bytes).
    public init(_ e: NftElement) {
        self.init(set: e.set, key: e.keyBytes(end: false), keyEnd: e.interval ? e.keyBytes(end: true) : [], gotoChain: e.gotoChain)
    }

    /// The element as NftElement (for the plan line and the delete request), its fields
    /// decoded by the layout of gatepeer's sets (NftNames.dynamicLayout): grant sets are
    /// source . destination [. protocol [. port]], learned-address maps destination
    /// [. protocol [. port]].
    /// Bytes that do not fit that layout are kept as one raw field.
    public var element: NftElement {
        let interval = !keyEnd.isEmpty
        let raw = NftElement(set: set, key: [.raw(key, keyEnd)], interval: interval, timeoutMs: expiresMs, gotoChain: gotoChain)
        guard let layout = NftNames.dynamicLayout(ofSet: set) else { return raw }
        let width = layout.family == .v4 ? 4 : 16
        var kinds: [Int] = layout.grant ? [0, 0] : [0]  // 0 address, 1 proto, 2 port
        switch layout.shape {
        case .ports: kinds += [1, 2]
        case .proto: kinds.append(1)
        case .address: break
        }
        let total = kinds.reduce(0) { $0 + ($1 == 0 ? width : 4) }
        guard key.count == total, keyEnd.isEmpty || keyEnd.count == total else { return raw }
        var fields: [NftElement.Field] = []
        var at = 0
        for k in kinds {
            let n = k == 0 ? width : 4
            let lo = Array(key[at..<at + n]), hi = interval ? Array(keyEnd[at..<at + n]) : lo
            switch k {
            case 0:
                guard let a = IPAddress(bytes: lo), let b = IPAddress(bytes: hi) else { return raw }
                if !interval {
                    fields.append(.address(a))
                } else if let p = IPPrefix.covering(a, b) {
                    fields.append(.prefix(p))
                } else {
                    return raw
                }
            case 1:
                guard lo == hi else { return raw }
                fields.append(.proto(lo[0]))
            default:
                fields.append(.ports(PortRange(low: UInt16(lo[0]) << 8 | UInt16(lo[1]), high: UInt16(hi[0]) << 8 | UInt16(hi[1]))))
            }
            at += n
        }
        let e = NftElement(set: set, key: fields, interval: interval, timeoutMs: expiresMs, gotoChain: gotoChain)
        return ObservedElement(e) == self ? e : raw
    }
}
