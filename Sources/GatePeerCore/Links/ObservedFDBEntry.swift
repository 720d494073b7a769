/// One AF_BRIDGE neighbour (FDB entry) as the kernel's vxlan driver dumps it
/// (vxlan_fdb_info): one entry per remote, so an all-zero MAC with two gate peers is two
/// entries. The kernel leaves out an attribute that equals the device's own value:
/// NDA_PORT when the remote port is the device's destination port, NDA_VNI when the
/// remote VNI is the device's VNI, NDA_SRC_VNI unless the device is in collect-metadata
/// mode, NDA_IFINDEX when no outgoing device was given. nil here means "not sent".
public struct ObservedFDBEntry: Equatable, Sendable {
    /// ndm_ifindex: the vxlan device the entry is on.
    public var linkIndex: Int32
    /// NDA_LLADDR; all zeros for the default (flood) entries gatepeer makes toward gate peers.
    public var mac: MACAddress
    /// NDA_DST: the remote's underlay address; nil when not sent.
    public var destination: IPAddress?
    /// ndm_state: NUD_PERMANENT (0x80) for entries made by hand or by us, NUD_NOARP (0x40)
    /// for `static` ones, NUD_REACHABLE (0x02) for learned ones.
    public var state: UInt16
    /// ndm_flags (NTF_SELF 0x02, NTF_MASTER 0x04, NTF_EXT_LEARNED 0x10, NTF_ROUTER 0x80, ...).
    public var flags: UInt8
    /// NDA_PORT: UDP destination port toward this remote; nil = the device's port.
    public var port: UInt16?
    /// NDA_VNI: VNI sent toward this remote; nil = the device's VNI.
    public var vni: UInt32?
    /// NDA_SRC_VNI: the VNI the entry is filed under (collect-metadata devices only).
    public var sourceVNI: UInt32?
    /// NDA_IFINDEX: outgoing underlay device for this remote; nil = the routing decides.
    public var outgoingIndex: Int32?

    /// NUD_PERMANENT (linux/neighbour.h): the entry never ages out.
    public static let nudPermanent: UInt16 = 0x80
    /// NUD_NOARP (linux/neighbour.h): `bridge fdb ... static`; the entry never ages out.
    public static let nudNoARP: UInt16 = 0x40
    /// NTF_SELF (linux/neighbour.h): the device's own table, not a bridge master's.
    public static let ntfSelf: UInt8 = 0x02

    /// An entry with `state` NUD_PERMANENT (`permanent`) or NUD_REACHABLE, as tests and the
    /// planner build expected entries.
    public init(linkIndex: Int32, mac: MACAddress, destination: IPAddress?, permanent: Bool,
                flags: UInt8 = ObservedFDBEntry.ntfSelf, port: UInt16? = nil, vni: UInt32? = nil,
                sourceVNI: UInt32? = nil, outgoingIndex: Int32? = nil) {
        self.init(linkIndex: linkIndex, mac: mac, destination: destination,
                  state: permanent ? ObservedFDBEntry.nudPermanent : 0x02 /* NUD_REACHABLE */,
                  flags: flags, port: port, vni: vni, sourceVNI: sourceVNI, outgoingIndex: outgoingIndex)
    }

    /// An entry as the kernel layer decodes it, every field given.
    public init(linkIndex: Int32, mac: MACAddress, destination: IPAddress?, state: UInt16, flags: UInt8,
                port: UInt16?, vni: UInt32?, sourceVNI: UInt32?, outgoingIndex: Int32?) {
        self.linkIndex = linkIndex; self.mac = mac; self.destination = destination; self.state = state
        self.flags = flags; self.port = port; self.vni = vni; self.sourceVNI = sourceVNI; self.outgoingIndex = outgoingIndex
    }

    /// NUD_PERMANENT is set (learned entries have NUD_REACHABLE instead).
    public var permanent: Bool { state & ObservedFDBEntry.nudPermanent != 0 }

    /// True when the entry steers traffic exactly as the device itself would: no port,
    /// VNI, source VNI or outgoing device of its own (the kernel omits those attributes
    /// only when they equal the device's).
    public var usesDeviceDefaults: Bool { port == nil && vni == nil && sourceVNI == nil && outgoingIndex == nil }

    /// An all-zero entry exactly as gatepeer makes one for a gate peer (`bridge fdb append
    /// 00:00:00:00:00:00 dev gpN dst PEER` reads back the same): all-zero MAC, permanent,
    /// flags exactly NTF_SELF, the device's port and VNI.
    /// State is one value per MAC, shared by all its remotes: each append rewrites it for
    /// the whole all-zero entry (`bridge fdb append` sends NUD_PERMANENT|NUD_NOARP, 0xc0;
    /// we send NUD_PERMANENT, 0x80). NUD_NOARP changes nothing for a vxlan entry (both
    /// bits mean "never ages"), so it is ignored.
    public var isGatePeerEntry: Bool {
        mac.isZero && destination != nil && hasPermanentState && flags == ObservedFDBEntry.ntfSelf && usesDeviceDefaults
    }

    /// An entry as the vxlan driver files one it learned from a packet (vxlan_snoop:
    /// NUD_REACHABLE, flags exactly NTF_SELF) at the device's port and VNI. Entries made
    /// with `bridge fdb add/replace` carry NUD_PERMANENT (`permanent`, the default) or
    /// NUD_NOARP (`static`), or NTF_EXT_LEARNED (`extern_learn`), and never age out;
    /// `bridge fdb add ... dynamic` files the learned state and ages out like one.
    public var isLearned: Bool {
        !mac.isZero && state & (ObservedFDBEntry.nudPermanent | ObservedFDBEntry.nudNoARP) == 0
            && flags == ObservedFDBEntry.ntfSelf && usesDeviceDefaults
    }

    /// NUD_PERMANENT, with or without NUD_NOARP (0x40), and nothing else.
    public var hasPermanentState: Bool { state & ~ObservedFDBEntry.nudNoARP == ObservedFDBEntry.nudPermanent }

    /// The non-default attributes as `bridge fdb` prints them, for plan lines.
    public var attributeText: String {
        var s = ""
        if let port { s += " port \(port)" }
        if let vni { s += " vni \(vni)" }
        if let sourceVNI { s += " src_vni \(sourceVNI)" }
        if let outgoingIndex { s += " via ifindex \(outgoingIndex)" }
        if !hasPermanentState { s += " state 0x\(String(state, radix: 16))" }
        if flags != ObservedFDBEntry.ntfSelf { s += " flags 0x\(String(flags, radix: 16))" }
        return s
    }
}
