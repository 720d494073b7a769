import CNetlink
import GatePeerCore
import Glibc

/// One nf_tables transaction built byte by byte: BATCH_BEGIN, the messages, BATCH_END,
/// all in one buffer that goes to the kernel in one sendto. The kernel commits all of
/// it or none of it.
///
/// libnftables is still what turns nft text into expressions (see Kernel.loadFilter);
/// this carries what it is slow at: hundreds of thousands of map elements, and copies of
/// a staging table's objects into the live one.
struct NftBatch {
    /// The transaction's messages, written with the one netlink encoder.
    private var writer = NetlinkWriter(capacity: 1 << 16)
    /// The bytes that go to the kernel in one sendto.
    var bytes: [UInt8] { writer.bytes }
    /// What each message was, by sequence number, for error reports.
    private(set) var descriptions: [UInt32: String] = [:]
    private(set) var beginSequence: UInt32 = 0
    private(set) var lastSequence: UInt32 = 0
    /// nf_tables messages (BATCH_BEGIN and BATCH_END not counted).
    private(set) var messageCount = 0
    private var sequence: UInt32

    static let family = UInt8(1)  // NFPROTO_INET
    /// Element messages stay well under the 64 KiB an attribute nest can describe.
    static let elementBytes = 48 * 1024
    /// BATCH_BEGIN and BATCH_END name the subsystem the batch is for in res_id.
    private static let subsystem = UInt16(NFNL_SUBSYS_NFTABLES)

    /// nlmsg_type of an nf_tables message: the nfnetlink subsystem in the high byte, the
    /// NFT_MSG_* in the low byte (NFNL_MSG_TYPE, <linux/netfilter/nfnetlink.h>).
    static func messageType(_ type: nf_tables_msg_types) -> UInt16 { subsystem << 8 | UInt16(type.rawValue) }

    /// Whether `message` is a reply of kind `type` (its low byte; the high byte is the subsystem).
    static func isReply(_ message: NetlinkMessage, _ type: nf_tables_msg_types) -> Bool { message.type & 0xff == UInt16(type.rawValue) }

    init(firstSequence: UInt32) {
        sequence = firstSequence
        beginSequence = control(UInt16(NFNL_MSG_BATCH_BEGIN))
        descriptions[beginSequence] = "nftables transaction"
    }

    /// BATCH_BEGIN or BATCH_END: a bare nfgenmsg (AF_UNSPEC) whose res_id names nf_tables.
    private mutating func control(_ type: UInt16) -> UInt32 {
        sequence &+= 1
        writer.message(type: type, sequence: sequence) { $0.nfgenHeader(family: UInt8(AF_UNSPEC), resourceID: NftBatch.subsystem) }
        return sequence
    }

    /// Starts an nf_tables message; `end()` closes it.
    mutating func begin(_ type: nf_tables_msg_types, flags: Int32 = 0, what: @autoclosure () -> String) {
        sequence &+= 1
        writer.beginMessage(type: NftBatch.messageType(type), flags: UInt16(flags), sequence: sequence)
        writer.nfgenHeader(family: NftBatch.family)
        descriptions[sequence] = what()
        lastSequence = sequence
        messageCount += 1
    }

    mutating func end() { writer.endMessage() }

    /// Size of the message being built.
    var openSize: Int { writer.openSize }

    /// Closes the transaction. The last message asks for an ACK: the kernel handles the
    /// whole batch before answering, so its answer means the batch is done.
    mutating func finish() {
        end()
        if lastSequence != 0 { writer.addFlags(toLast: NetlinkFlags.ack) }
        _ = control(UInt16(NFNL_MSG_BATCH_END))
    }

    // MARK: attributes

    mutating func attr(_ type: UInt16, _ payload: UnsafeRawBufferPointer) { writer.attribute(type, payload) }
    mutating func attr(_ type: UInt16, _ payload: [UInt8]) { writer.attribute(type, payload) }
    /// NUL-terminated, as nf_tables names are.
    mutating func attr(_ type: UInt16, string: String) { writer.attribute(type, string: string) }
    mutating func attr(_ type: UInt16, be32 v: UInt32) { writer.attribute(type, be32: v) }
    mutating func attr(_ type: UInt16, be64 v: UInt64) { writer.attribute(type, be64: v) }
    /// An address in network order.
    mutating func attr(_ type: UInt16, address a: IPAddress) { writer.attribute(type, address: a) }
    mutating func nestStart(_ type: UInt16) -> Int { writer.beginNest(type) }
    mutating func nestEnd(_ at: Int) { writer.endNest(at) }
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
            attr(NftElementListAttribute.table, string: table)
            attr(NftElementListAttribute.set, string: map)
            let list = nestStart(NftElementListAttribute.elements)
            while i < intervals.count && openSize < NftBatch.elementBytes {
                let iv = intervals[i]
                let start = nestStart(NftElementListAttribute.element)
                let key = nestStart(NftElementAttribute.key)
                attr(NftDataAttribute.value, address: iv.low)
                nestEnd(key)
                if add {
                    let data = nestStart(NftElementAttribute.data)
                    let verdict = nestStart(NftDataAttribute.verdict)
                    switch iv.verdict {
                    case MapInterval.allow:
                        attr(NftDataAttribute.verdictCode, be32: NftVerdict.return)
                    case MapInterval.deny:
                        attr(NftDataAttribute.verdictCode, be32: NftVerdict.continue)
                    default:
                        attr(NftDataAttribute.verdictCode, be32: NftVerdict.goto)
                        attr(NftDataAttribute.verdictChain, string: iv.verdict)
                    }
                    nestEnd(verdict)
                    nestEnd(data)
                }
                nestEnd(start)
                if let next = iv.high.successor {
                    let end = nestStart(NftElementListAttribute.element)
                    let key = nestStart(NftElementAttribute.key)
                    attr(NftDataAttribute.value, address: next)
                    nestEnd(key)
                    attr(NftElementAttribute.flags, be32: UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue))
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
            attr(NftElementListAttribute.table, string: table)
            attr(NftElementListAttribute.set, string: set)
            let list = nestStart(NftElementListAttribute.elements)
            while i < elements.count && elements[i].set == set && openSize < NftBatch.elementBytes {
                let e = elements[i]
                let item = nestStart(NftElementListAttribute.element)
                let key = nestStart(NftElementAttribute.key)
                writer.attribute(NftDataAttribute.value) { e.appendKey(end: false, to: &$0) }
                nestEnd(key)
                if e.interval {
                    let keyEnd = nestStart(NftElementAttribute.keyEnd)
                    writer.attribute(NftDataAttribute.value) { e.appendKey(end: true, to: &$0) }
                    nestEnd(keyEnd)
                }
                if add, let t = e.timeoutMs {
                    attr(NftElementAttribute.timeout, be64: UInt64(t))
                    attr(NftElementAttribute.expiration, be64: UInt64(t))
                }
                if add, let chain = e.gotoChain {
                    let data = nestStart(NftElementAttribute.data)
                    let verdict = nestStart(NftDataAttribute.verdict)
                    attr(NftDataAttribute.verdictCode, be32: NftVerdict.goto)
                    attr(NftDataAttribute.verdictChain, string: chain)
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
        attr(NftObjectAttribute.table, string: table)
        attr(NftObjectAttribute.name, string: name)
        attr(NftObjectAttribute.type, be32: Kernel.counterType)
        nestEnd(nestStart(NftObjectAttribute.data))
        end()
    }

    /// Creates table inet `name`, or with `create: false` updates the existing one
    /// (ENOENT when absent): `dormant` sets or clears NFT_TABLE_F_DORMANT. Waking a table
    /// registers its base chains' hooks while the batch is processed, before the commit.
    mutating func table(_ name: String, dormant: Bool, create: Bool) {
        begin(NFT_MSG_NEWTABLE, flags: create ? NLM_F_CREATE : 0, what: "\(create ? "" : dormant ? "put to sleep " : "wake ")table inet \(name)")
        attr(NftTableAttribute.name, string: name)
        attr(NftTableAttribute.flags, be32: dormant ? UInt32(NFT_TABLE_F_DORMANT.rawValue) : 0)
        end()
    }

    mutating func deleteTable(_ name: String) {
        begin(NFT_MSG_DELTABLE, what: "delete table inet \(name)")
        attr(NftTableAttribute.name, string: name)
        end()
    }

    /// Table inet gatepeer created from the staging table's dump (`staged`): its objects,
    /// the content digest counter (NftNames.Metadata.content), sets, chains, elements, the destination
    /// maps' elements (`maps`, loaded raw) and rules, in the order references need.
    mutating func copyTable(_ staged: Kernel.Staged, maps: [IntervalMap], digest: String, dormant: Bool) {
        let live = NftNames.table
        table(live, dormant: dormant, create: true)
        for o in staged.objects {
            copy(o, as: NFT_MSG_NEWOBJ, into: live, flags: NLM_F_CREATE, keep: Kernel.objectKeep)
        }
        counter(table: live, name: NftNames.Metadata.content.counter(digest))
        for (k, s) in staged.sets.enumerated() {
            copy(s, as: NFT_MSG_NEWSET, into: live, flags: NLM_F_CREATE, keep: Kernel.setKeep) {
                $0.attr(NftSetAttribute.id, be32: UInt32(k + 1))
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
            } else if type == NFT_MSG_NEWRULE && t == NftRuleAttribute.expressions {
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

    /// `nameType`: the attribute that names the object (for reports). The attributes
    /// are copied out of the receive buffer, as far as they are well formed.
    init(_ m: NetlinkMessage, kind: String, nameType: UInt16) {
        self.kind = kind
        var attrs: [(UInt16, [UInt8])] = []
        var name = ""
        let payload = m.payload
        let start = NetlinkLayout.align(MemoryLayout<nfgenmsg>.size)
        if start <= payload.count {
            NetlinkReader.forEachAttribute(in: payload, start..<payload.count) { t, _, range in
                let p = UnsafeRawBufferPointer(rebasing: payload[range])
                attrs.append((t, Array(p)))
                if t == nameType { name = String(decoding: p.prefix { $0 != 0 }, as: UTF8.self) }
                return true
            }
        }
        attributes = attrs
        self.name = name
    }

    func u32(_ t: UInt16) -> UInt32? {
        guard let p = attributes.first(where: { $0.0 == t })?.1, p.count >= 4 else { return nil }
        return UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
    }
}

enum NftExpressions {
    /// A rule's expression list as dumped, made acceptable as a request. The kernel
    /// dumps an `exthdr` that writes (tcp option maxseg size set ...) with
    /// NFTA_EXTHDR_FLAGS, which it refuses on input alongside NFTA_EXTHDR_SREG.
    static func forRequest(_ list: [UInt8]) -> [UInt8] {
        var out = NetlinkWriter(capacity: list.count)
        func put(_ rawType: UInt16, _ payload: ArraySlice<UInt8>) { out.attribute(rawType, payload) }
        func nest(_ rawType: UInt16, _ body: () -> Void) {
            let at = out.beginNest(rawType: rawType)
            body()
            out.endNest(at)
        }
        for elem in netlinkAttributes(list, in: 0..<list.count) {
            let parts = netlinkAttributes(list, in: elem.payload)
            let name = parts.first { $0.type == NftExpressionAttribute.name }
                .map { String(decoding: list[$0.payload].prefix { $0 != 0 }, as: UTF8.self) }
            guard name == "exthdr", let data = parts.first(where: { $0.type == NftExpressionAttribute.data }) else {
                put(elem.rawType, list[elem.payload])
                continue
            }
            let fields = netlinkAttributes(list, in: data.payload)
            let writes = fields.contains { $0.type == NftExpressionAttribute.exthdrSourceRegister }
            nest(elem.rawType) {
                for p in parts {
                    if p.type != NftExpressionAttribute.data { put(p.rawType, list[p.payload]); continue }
                    nest(p.rawType) {
                        for f in fields where !(writes && f.type == NftExpressionAttribute.exthdrFlags) { put(f.rawType, list[f.payload]) }
                    }
                }
            }
        }
        return out.bytes
    }
}

/// nf_tables attribute types (<linux/netfilter/nf_tables.h>), typed once.
/// NFTA_TABLE_* of a table message.
enum NftTableAttribute {
    static let name = UInt16(NFTA_TABLE_NAME.rawValue)
    static let flags = UInt16(NFTA_TABLE_FLAGS.rawValue)
}

/// NFT_TABLE_F_* in NFTA_TABLE_FLAGS (host order after the big-endian read).
enum NftTableFlag {
    static let dormant = UInt32(NFT_TABLE_F_DORMANT.rawValue)
}

/// NFTA_OBJ_* of a stateful object (counter) message.
enum NftObjectAttribute {
    static let table = UInt16(NFTA_OBJ_TABLE.rawValue)
    static let name = UInt16(NFTA_OBJ_NAME.rawValue)
    static let type = UInt16(NFTA_OBJ_TYPE.rawValue)
    static let data = UInt16(NFTA_OBJ_DATA.rawValue)
    static let userdata = UInt16(NFTA_OBJ_USERDATA.rawValue)
}

/// NFTA_COUNTER_* inside a counter object's NFTA_OBJ_DATA (big-endian u64 each).
enum NftCounterAttribute {
    static let packets = UInt16(NFTA_COUNTER_PACKETS.rawValue)
    static let bytes = UInt16(NFTA_COUNTER_BYTES.rawValue)
}

/// NFTA_SET_* of a set message.
enum NftSetAttribute {
    static let table = UInt16(NFTA_SET_TABLE.rawValue)
    static let name = UInt16(NFTA_SET_NAME.rawValue)
    static let flags = UInt16(NFTA_SET_FLAGS.rawValue)
    static let keyType = UInt16(NFTA_SET_KEY_TYPE.rawValue)
    static let keyLength = UInt16(NFTA_SET_KEY_LEN.rawValue)
    static let dataType = UInt16(NFTA_SET_DATA_TYPE.rawValue)
    static let dataLength = UInt16(NFTA_SET_DATA_LEN.rawValue)
    static let policy = UInt16(NFTA_SET_POLICY.rawValue)
    static let desc = UInt16(NFTA_SET_DESC.rawValue)
    static let id = UInt16(NFTA_SET_ID.rawValue)
    static let timeout = UInt16(NFTA_SET_TIMEOUT.rawValue)
    static let gcInterval = UInt16(NFTA_SET_GC_INTERVAL.rawValue)
    static let userdata = UInt16(NFTA_SET_USERDATA.rawValue)
    static let objectType = UInt16(NFTA_SET_OBJ_TYPE.rawValue)
    static let expression = UInt16(NFTA_SET_EXPR.rawValue)
    static let expressions = UInt16(NFTA_SET_EXPRESSIONS.rawValue)
}

/// NFT_SET_* in NFTA_SET_FLAGS (host order after the big-endian read). Not GatePeerCore's
/// NftSetFlag, which names the flags as nft text spells them.
enum NftSetFlagBits {
    static let anonymous = UInt32(NFT_SET_ANONYMOUS.rawValue)
    static let timeout = UInt32(NFT_SET_TIMEOUT.rawValue)
}

/// NFTA_CHAIN_* of a chain message.
enum NftChainAttribute {
    static let name = UInt16(NFTA_CHAIN_NAME.rawValue)
    static let hook = UInt16(NFTA_CHAIN_HOOK.rawValue)
    static let policy = UInt16(NFTA_CHAIN_POLICY.rawValue)
    static let type = UInt16(NFTA_CHAIN_TYPE.rawValue)
    static let userdata = UInt16(NFTA_CHAIN_USERDATA.rawValue)
}

/// NFTA_RULE_* of a rule message.
enum NftRuleAttribute {
    static let table = UInt16(NFTA_RULE_TABLE.rawValue)
    static let chain = UInt16(NFTA_RULE_CHAIN.rawValue)
    static let expressions = UInt16(NFTA_RULE_EXPRESSIONS.rawValue)
    static let userdata = UInt16(NFTA_RULE_USERDATA.rawValue)
    static let compat = UInt16(NFTA_RULE_COMPAT.rawValue)
}

/// NFTA_GEN_* of a generation message (NFT_MSG_NEWGEN).
enum NftGenerationAttribute {
    static let id = UInt16(NFTA_GEN_ID.rawValue)
}

/// NFTA_SET_ELEM_LIST_* of an element message, and NFTA_LIST_ELEM inside its list.
enum NftElementListAttribute {
    static let table = UInt16(NFTA_SET_ELEM_LIST_TABLE.rawValue)
    static let set = UInt16(NFTA_SET_ELEM_LIST_SET.rawValue)
    static let elements = UInt16(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue)
    static let element = UInt16(NFTA_LIST_ELEM.rawValue)
}

/// NFTA_SET_ELEM_* of one element.
enum NftElementAttribute {
    static let key = UInt16(NFTA_SET_ELEM_KEY.rawValue)
    static let keyEnd = UInt16(NFTA_SET_ELEM_KEY_END.rawValue)
    static let data = UInt16(NFTA_SET_ELEM_DATA.rawValue)
    static let flags = UInt16(NFTA_SET_ELEM_FLAGS.rawValue)
    static let timeout = UInt16(NFTA_SET_ELEM_TIMEOUT.rawValue)
    static let expiration = UInt16(NFTA_SET_ELEM_EXPIRATION.rawValue)
    static let userdata = UInt16(NFTA_SET_ELEM_USERDATA.rawValue)
    static let objectReference = UInt16(NFTA_SET_ELEM_OBJREF.rawValue)
}

/// NFTA_DATA_* (a key or a verdict) and NFTA_VERDICT_* inside a verdict.
enum NftDataAttribute {
    static let value = UInt16(NFTA_DATA_VALUE.rawValue)
    static let verdict = UInt16(NFTA_DATA_VERDICT.rawValue)
    static let verdictCode = UInt16(NFTA_VERDICT_CODE.rawValue)
    static let verdictChain = UInt16(NFTA_VERDICT_CHAIN.rawValue)
}

/// NFTA_EXPR_* of an expression, and the exthdr expression fields gatepeer rewrites.
enum NftExpressionAttribute {
    static let name = UInt16(NFTA_EXPR_NAME.rawValue)
    static let data = UInt16(NFTA_EXPR_DATA.rawValue)
    static let exthdrSourceRegister = UInt16(NFTA_EXTHDR_SREG.rawValue)
    static let exthdrFlags = UInt16(NFTA_EXTHDR_FLAGS.rawValue)
}

/// Verdict codes (enum nft_verdicts) as NFTA_VERDICT_CODE carries them (big-endian u32).
enum NftVerdict {
    static let goto = UInt32(bitPattern: NFT_GOTO.rawValue)
    static let `return` = UInt32(bitPattern: NFT_RETURN.rawValue)
    static let `continue` = UInt32(bitPattern: NFT_CONTINUE.rawValue)
}
