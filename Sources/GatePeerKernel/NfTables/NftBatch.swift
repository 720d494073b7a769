import CNetlink
import GatePeerCore
import Glibc

/// One nf_tables transaction built byte by byte: BATCH_BEGIN, the messages, BATCH_END,
/// all in one buffer that goes to the kernel in one sendmsg. The kernel commits all of
/// it or none of it.
///
/// libnftables is still what turns nft text into expressions (see Kernel.loadFilter);
/// this carries what it is slow at: hundreds of thousands of map elements, and copies of
/// a staging table's objects into the live one.
struct NftBatch {
    private(set) var bytes: [UInt8] = []
    /// Where the last nf_tables message begins (finish() sets its ACK flag).
    private var lastMessageStart = 0
    /// What each message was, by sequence number, for error reports.
    private(set) var descriptions: [UInt32: String] = [:]
    private(set) var beginSequence: UInt32 = 0
    private(set) var lastSequence: UInt32 = 0
    private(set) var messageCount = 0
    private var sequence: UInt32
    private var open: Int?

    static let family = UInt8(1)  // NFPROTO_INET
    /// Element messages stay well under the 64 KiB an attribute nest can describe.
    static let elementBytes = 48 * 1024

    init(firstSequence: UInt32) {
        sequence = firstSequence
        bytes.reserveCapacity(1 << 16)
        beginSequence = header(UInt16(NFNL_MSG_BATCH_BEGIN), flags: 0, family: UInt8(AF_UNSPEC),
                               resID: UInt16(NFNL_SUBSYS_NFTABLES))
        descriptions[beginSequence] = "nftables transaction"
    }

    private mutating func header(_ type: UInt16, flags: UInt16, family: UInt8, resID: UInt16 = 0) -> UInt32 {
        sequence &+= 1
        let start = bytes.count
        append32(0)  // length, patched by `end`
        append16(type)
        append16(UInt16(NLM_F_REQUEST) | flags)
        append32(sequence)
        append32(0)
        bytes.append(family)
        bytes.append(UInt8(NFNETLINK_V0))
        bytes.append(UInt8(resID >> 8)); bytes.append(UInt8(resID & 0xff))
        open = start
        end()
        return sequence
    }

    /// Starts an nf_tables message; `end()` closes it.
    mutating func begin(_ type: nf_tables_msg_types, flags: Int32 = 0, what: @autoclosure () -> String) {
        precondition(open == nil)
        let start = bytes.count
        let seq = header(UInt16(NFNL_SUBSYS_NFTABLES) << 8 | UInt16(type.rawValue), flags: UInt16(flags), family: NftBatch.family)
        open = start
        lastMessageStart = start
        descriptions[seq] = what()
        lastSequence = seq
        messageCount += 1
    }

    mutating func end() {
        guard let start = open else { return }
        patch32(at: start, UInt32(bytes.count - start))
        open = nil
    }

    /// Size of the message being built.
    var openSize: Int { open.map { bytes.count - $0 } ?? 0 }

    /// Closes the transaction. The last message asks for an ACK: the kernel handles the
    /// whole batch before answering, so its answer means the batch is done.
    mutating func finish() {
        end()
        if lastSequence != 0 {
            // Set NLM_F_ACK on the last message (flags at offset 6).
            let lastAt = lastMessageStart
            let flags = UInt16(bytes[lastAt + 6]) | UInt16(bytes[lastAt + 7]) << 8
            let f = flags | UInt16(NLM_F_ACK)
            bytes[lastAt + 6] = UInt8(f & 0xff); bytes[lastAt + 7] = UInt8(f >> 8)
        }
        _ = header(UInt16(NFNL_MSG_BATCH_END), flags: 0, family: UInt8(AF_UNSPEC), resID: UInt16(NFNL_SUBSYS_NFTABLES))
    }

    // MARK: attributes

    mutating func attr(_ type: UInt16, _ payload: UnsafeRawBufferPointer) {
        append16(UInt16(4 + payload.count))
        append16(type)
        bytes.append(contentsOf: payload)
        pad()
    }

    mutating func attr(_ type: UInt16, _ payload: [UInt8]) {
        payload.withUnsafeBytes { attr(type, $0) }
    }

    /// NUL-terminated, as nf_tables names are.
    mutating func attr(_ type: UInt16, string: String) {
        let n = string.utf8.count + 1
        append16(UInt16(4 + n))
        append16(type)
        bytes.append(contentsOf: string.utf8)
        bytes.append(0)
        pad()
    }

    mutating func attr(_ type: UInt16, be32 v: UInt32) {
        append16(8); append16(type)
        bytes.append(UInt8(v >> 24)); bytes.append(UInt8(v >> 16 & 0xff)); bytes.append(UInt8(v >> 8 & 0xff)); bytes.append(UInt8(v & 0xff))
    }

    mutating func attr(_ type: UInt16, be64 v: UInt64) {
        append16(12); append16(type)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(v >> UInt64(shift) & 0xff)) }
    }

    mutating func nestStart(_ type: UInt16) -> Int {
        let at = bytes.count
        append16(0)
        append16(type | UInt16(NLA_F_NESTED))
        return at
    }

    mutating func nestEnd(_ at: Int) {
        let len = UInt16(bytes.count - at)
        bytes[at] = UInt8(len & 0xff); bytes[at + 1] = UInt8(len >> 8)
    }

    /// An address in network order.
    mutating func attr(_ type: UInt16, address a: IPAddress) {
        if a.family == .v4 {
            attr(type, be32: UInt32(truncatingIfNeeded: a.low))
        } else {
            append16(20); append16(type)
            for v in [a.high, a.low] {
                for k in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(v >> UInt64(k) & 0xff)) }
            }
        }
    }

    // MARK: bytes

    private mutating func pad() {
        while bytes.count & 3 != 0 { bytes.append(0) }
    }
    private mutating func append16(_ v: UInt16) { bytes.append(UInt8(v & 0xff)); bytes.append(UInt8(v >> 8)) }
    private mutating func append32(_ v: UInt32) {
        bytes.append(UInt8(v & 0xff)); bytes.append(UInt8(v >> 8 & 0xff)); bytes.append(UInt8(v >> 16 & 0xff)); bytes.append(UInt8(v >> 24))
    }
    private mutating func patch32(at i: Int, _ v: UInt32) {
        bytes[i] = UInt8(v & 0xff); bytes[i + 1] = UInt8(v >> 8 & 0xff); bytes[i + 2] = UInt8(v >> 16 & 0xff); bytes[i + 3] = UInt8(v >> 24)
    }
}

extension NftBatch {
    /// Interval-map elements of `intervals` (start element with its verdict, end element
    /// at high+1 flagged INTERVAL_END, none past the family's last address), as many
    /// messages as they need. `add: false` deletes them (keys only).
    mutating func intervalElements(table: String, map: String, _ intervals: [MapInterval], add: Bool) {
        var i = 0
        while i < intervals.count {
            begin(add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, flags: add ? NLM_F_CREATE : 0,
                  what: "\(add ? "add" : "delete") elements of map \(map) from \(intervals[i].low)")
            attr(UInt16(NFTA_SET_ELEM_LIST_TABLE.rawValue), string: table)
            attr(UInt16(NFTA_SET_ELEM_LIST_SET.rawValue), string: map)
            let list = nestStart(UInt16(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue))
            while i < intervals.count && openSize < NftBatch.elementBytes {
                let iv = intervals[i]
                let start = nestStart(UInt16(NFTA_LIST_ELEM.rawValue))
                let key = nestStart(UInt16(NFTA_SET_ELEM_KEY.rawValue))
                attr(UInt16(NFTA_DATA_VALUE.rawValue), address: iv.low)
                nestEnd(key)
                if add {
                    let data = nestStart(UInt16(NFTA_SET_ELEM_DATA.rawValue))
                    let verdict = nestStart(UInt16(NFTA_DATA_VERDICT.rawValue))
                    switch iv.verdict {
                    case MapInterval.allow:
                        attr(UInt16(NFTA_VERDICT_CODE.rawValue), be32: UInt32(bitPattern: NFT_RETURN.rawValue))
                    case MapInterval.deny:
                        attr(UInt16(NFTA_VERDICT_CODE.rawValue), be32: UInt32(bitPattern: NFT_CONTINUE.rawValue))
                    default:
                        attr(UInt16(NFTA_VERDICT_CODE.rawValue), be32: UInt32(bitPattern: NFT_GOTO.rawValue))
                        attr(UInt16(NFTA_VERDICT_CHAIN.rawValue), string: iv.verdict)
                    }
                    nestEnd(verdict)
                    nestEnd(data)
                }
                nestEnd(start)
                if let next = iv.high.successor {
                    let end = nestStart(UInt16(NFTA_LIST_ELEM.rawValue))
                    let key = nestStart(UInt16(NFTA_SET_ELEM_KEY.rawValue))
                    attr(UInt16(NFTA_DATA_VALUE.rawValue), address: next)
                    nestEnd(key)
                    attr(UInt16(NFTA_SET_ELEM_FLAGS.rawValue), be32: UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue))
                    nestEnd(end)
                }
                i += 1
            }
            nestEnd(list)
            end()
        }
    }

    /// Grant and learned elements (NftElement), grouped into one message per run of
    /// elements of the same set. `add: false` deletes them (keys only). Keys are the
    /// kernel's layout of nft's own encoding: a key, and for interval sets with a
    /// concatenated key a key end; timeout and expiration in milliseconds; a verdict.
    mutating func elements(table: String, _ elements: [NftElement], add: Bool) {
        var i = 0
        while i < elements.count {
            let set = elements[i].set
            begin(add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, flags: add ? NLM_F_CREATE : 0,
                  what: "\(add ? "add" : "delete") element \(set) { \(elements[i].keyText) }")
            attr(UInt16(NFTA_SET_ELEM_LIST_TABLE.rawValue), string: table)
            attr(UInt16(NFTA_SET_ELEM_LIST_SET.rawValue), string: set)
            let list = nestStart(UInt16(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue))
            while i < elements.count && elements[i].set == set && openSize < NftBatch.elementBytes {
                let e = elements[i]
                let item = nestStart(UInt16(NFTA_LIST_ELEM.rawValue))
                let key = nestStart(UInt16(NFTA_SET_ELEM_KEY.rawValue))
                attr(UInt16(NFTA_DATA_VALUE.rawValue), e.keyBytes(end: false))
                nestEnd(key)
                if e.interval {
                    let keyEnd = nestStart(UInt16(NFTA_SET_ELEM_KEY_END.rawValue))
                    attr(UInt16(NFTA_DATA_VALUE.rawValue), e.keyBytes(end: true))
                    nestEnd(keyEnd)
                }
                if add, let t = e.timeoutMs {
                    attr(UInt16(NFTA_SET_ELEM_TIMEOUT.rawValue), be64: UInt64(t))
                    attr(UInt16(NFTA_SET_ELEM_EXPIRATION.rawValue), be64: UInt64(t))
                }
                if add, let chain = e.gotoChain {
                    let data = nestStart(UInt16(NFTA_SET_ELEM_DATA.rawValue))
                    let verdict = nestStart(UInt16(NFTA_DATA_VERDICT.rawValue))
                    attr(UInt16(NFTA_VERDICT_CODE.rawValue), be32: UInt32(bitPattern: NFT_GOTO.rawValue))
                    attr(UInt16(NFTA_VERDICT_CHAIN.rawValue), string: chain)
                    nestEnd(verdict)
                    nestEnd(data)
                }
                nestEnd(item)
                i += 1
            }
            nestEnd(list)
            end()
        }
    }

    /// A named counter whose name carries metadata (fp_, fs_, fk_ followed by a digest).
    mutating func counter(table: String, name: String) {
        begin(NFT_MSG_NEWOBJ, flags: NLM_F_CREATE, what: "counter \(name)")
        attr(UInt16(NFTA_OBJ_TABLE.rawValue), string: table)
        attr(UInt16(NFTA_OBJ_NAME.rawValue), string: name)
        attr(UInt16(NFTA_OBJ_TYPE.rawValue), be32: Kernel.counterType)
        nestEnd(nestStart(UInt16(NFTA_OBJ_DATA.rawValue)))
        end()
    }

    /// Creates table inet `name`, or with `create: false` updates the existing one
    /// (ENOENT when absent): `dormant` sets or clears NFT_TABLE_F_DORMANT. Waking a table
    /// registers its base chains' hooks while the batch is processed, before the commit.
    mutating func table(_ name: String, dormant: Bool, create: Bool) {
        begin(NFT_MSG_NEWTABLE, flags: create ? NLM_F_CREATE : 0, what: "\(create ? "" : dormant ? "put to sleep " : "wake ")table inet \(name)")
        attr(UInt16(NFTA_TABLE_NAME.rawValue), string: name)
        attr(UInt16(NFTA_TABLE_FLAGS.rawValue), be32: dormant ? UInt32(NFT_TABLE_F_DORMANT.rawValue) : 0)
        end()
    }

    mutating func deleteTable(_ name: String) {
        begin(NFT_MSG_DELTABLE, what: "delete table inet \(name)")
        attr(UInt16(NFTA_TABLE_NAME.rawValue), string: name)
        end()
    }

    /// Table inet gatepeer created from the staging table's dump (`staged`): its objects,
    /// the content digest counter fk_`digest`, sets, chains, elements, the destination
    /// maps' elements (`maps`, loaded raw) and rules, in the order references need.
    mutating func copyTable(_ staged: Kernel.Staged, maps: [IntervalMap], digest: String, dormant: Bool) {
        let live = NftRuleset.table
        table(live, dormant: dormant, create: true)
        for o in staged.objects {
            copy(o, as: NFT_MSG_NEWOBJ, into: live, flags: NLM_F_CREATE, keep: Kernel.objectKeep)
        }
        counter(table: live, name: "fk_\(digest)")
        for (k, s) in staged.sets.enumerated() {
            copy(s, as: NFT_MSG_NEWSET, into: live, flags: NLM_F_CREATE, keep: Kernel.setKeep) {
                $0.attr(UInt16(NFTA_SET_ID.rawValue), be32: UInt32(k + 1))
            }
        }
        for c in staged.chains {
            copy(c, as: NFT_MSG_NEWCHAIN, into: live, flags: NLM_F_CREATE, keep: Kernel.chainKeep)
        }
        for e in staged.elements {
            copy(e, as: NFT_MSG_NEWSETELEM, into: live, flags: NLM_F_CREATE, keep: Kernel.elementListKeep)
        }
        for m in maps {
            intervalElements(table: live, map: m.name, m.intervals, add: true)
        }
        for r in staged.rules {
            copy(r, as: NFT_MSG_NEWRULE, into: live, flags: NLM_F_CREATE | NLM_F_APPEND, keep: Kernel.ruleKeep)
        }
    }

    /// A copy of an object read from the staging table, into `table`: the attributes in
    /// `keep` as the kernel reported them, and the table name. A list of what to keep,
    /// not of what to drop: dumps carry read-only attributes (handles, use counts, and
    /// newer kernels add more) that a request may not.
    mutating func copy(_ object: NftObject, as type: nf_tables_msg_types, into table: String, flags: Int32, keep: Set<UInt16>, extra: (inout NftBatch) -> Void = { _ in }) {
        begin(type, flags: flags, what: "\(object.kind) \(object.name)")
        for (t, payload) in object.attributes where t == 1 || keep.contains(t) {
            if t == 1 {  // NFTA_{TABLE_NAME,CHAIN,RULE,SET,SET_ELEM_LIST,OBJ}_TABLE are all 1
                attr(t, string: table)
            } else if type == NFT_MSG_NEWRULE && t == UInt16(NFTA_RULE_EXPRESSIONS.rawValue) {
                attr(t | UInt16(NLA_F_NESTED), NftExpressions.forRequest(payload))
            } else {
                attr(t, payload)
            }
        }
        extra(&self)
        end()
    }
}

/// One object of a table dump: its top-level attributes, in order, as raw bytes.
struct NftObject {
    let kind: String
    let name: String
    let attributes: [(UInt16, [UInt8])]

    /// `nameType`: the attribute that names the object (for reports).
    init(_ m: UnsafePointer<nlmsghdr>, kind: String, nameType: UInt16) {
        self.kind = kind
        var attrs: [(UInt16, [UInt8])] = []
        var name = ""
        let start = UnsafeRawPointer(mnl_nlmsg_get_payload_offset(m, MemoryLayout<nfgenmsg>.size)!)
        var remaining = Int(m.pointee.nlmsg_len) - (start - UnsafeRawPointer(m))
        var a = start.assumingMemoryBound(to: nlattr.self)
        while remaining > 0 && mnl_attr_ok(a, Int32(remaining)) {
            let t = mnl_attr_get_type(a)
            let p = UnsafeRawBufferPointer(start: mnl_attr_get_payload(a), count: Int(mnl_attr_get_payload_len(a)))
            attrs.append((t, Array(p)))
            if t == nameType { name = String(decoding: p.prefix { $0 != 0 }, as: UTF8.self) }
            let next = UnsafePointer(mnl_attr_next(a)!)
            remaining -= UnsafeRawPointer(next) - UnsafeRawPointer(a)
            a = next
        }
        attributes = attrs
        self.name = name
    }

    func u32(_ t: UInt16) -> UInt32? {
        guard let p = attributes.first(where: { $0.0 == t })?.1, p.count >= 4 else { return nil }
        return UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
    }
}

/// Attributes of a raw buffer: (type without flags, full type, payload range).
func netlinkAttributes(_ b: [UInt8], in range: Range<Int>) -> [(type: UInt16, rawType: UInt16, payload: Range<Int>)] {
    var out: [(type: UInt16, rawType: UInt16, payload: Range<Int>)] = []
    forEachNetlinkAttribute(b, in: range) { out.append(($0, $1, $2)) }
    return out
}

/// Walks the attributes of a raw buffer without collecting them (element dumps hold
/// hundreds of thousands): `body(type without flags, full type, payload range)`.
@inline(__always)
func forEachNetlinkAttribute(_ b: [UInt8], in range: Range<Int>, _ body: (UInt16, UInt16, Range<Int>) -> Void) {
    var at = range.lowerBound
    while at + 4 <= range.upperBound {
        let len = Int(UInt16(b[at]) | UInt16(b[at + 1]) << 8)
        let raw = UInt16(b[at + 2]) | UInt16(b[at + 3]) << 8
        guard len >= 4, at + len <= range.upperBound else { break }
        body(raw & 0x3fff, raw, at + 4..<at + len)
        at += (len + 3) & ~3
    }
}

enum NftExpressions {
    /// A rule's expression list as dumped, made acceptable as a request. The kernel
    /// dumps an `exthdr` that writes (tcp option maxseg size set ...) with
    /// NFTA_EXTHDR_FLAGS, which it refuses on input alongside NFTA_EXTHDR_SREG.
    static func forRequest(_ list: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(list.count)
        func put(_ rawType: UInt16, _ payload: ArraySlice<UInt8>) {
            let len = UInt16(4 + payload.count)
            out.append(UInt8(len & 0xff)); out.append(UInt8(len >> 8))
            out.append(UInt8(rawType & 0xff)); out.append(UInt8(rawType >> 8))
            out.append(contentsOf: payload)
            while out.count & 3 != 0 { out.append(0) }
        }
        func nest(_ rawType: UInt16, _ body: () -> Void) {
            let at = out.count
            out.append(contentsOf: [0, 0, UInt8(rawType & 0xff), UInt8(rawType >> 8)])
            body()
            let len = UInt16(out.count - at)
            out[at] = UInt8(len & 0xff); out[at + 1] = UInt8(len >> 8)
        }
        for elem in netlinkAttributes(list, in: 0..<list.count) {
            let parts = netlinkAttributes(list, in: elem.payload)
            let name = parts.first { $0.type == UInt16(NFTA_EXPR_NAME.rawValue) }
                .map { String(decoding: list[$0.payload].prefix { $0 != 0 }, as: UTF8.self) }
            guard name == "exthdr", let data = parts.first(where: { $0.type == UInt16(NFTA_EXPR_DATA.rawValue) }) else {
                put(elem.rawType, list[elem.payload])
                continue
            }
            let fields = netlinkAttributes(list, in: data.payload)
            let writes = fields.contains { $0.type == UInt16(NFTA_EXTHDR_SREG.rawValue) }
            nest(elem.rawType) {
                for p in parts {
                    if p.type != UInt16(NFTA_EXPR_DATA.rawValue) { put(p.rawType, list[p.payload]); continue }
                    nest(p.rawType) {
                        for f in fields where !(writes && f.type == UInt16(NFTA_EXTHDR_FLAGS.rawValue)) { put(f.rawType, list[f.payload]) }
                    }
                }
            }
        }
        return out
    }
}
