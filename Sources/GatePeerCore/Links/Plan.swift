/// An ordered list of changes on objects gatepeer owns, plus what blocked the rest.
public struct Plan: Sendable {
    /// The changes in the order apply carries them out.
    public var changes: [Change]
    /// Problems found while planning (missing underlay, a foreign device holding our
    /// name, a foreign route in the way). Their objects are left alone; apply exits 1.
    public var blockers: [String]
    /// The filter table the config renders to (nil without a filter section), as the
    /// planner compared it; status reuses it instead of rendering again.
    public var ruleset: NftRuleset? = nil

    /// No changes (blockers and warnings aside): the kernel holds the config.
    public var isEmpty: Bool { changes.isEmpty }

    /// Look-alikes that are not gatepeer's (a `gatepeer:` alias on a bridge, protocol 201
    /// through the underlay): reported, left alone, and no reason to fail.
    public var warnings: [String] = []

    /// One attribute of a link that differs: its name as `plan` prints it and both values as text.
    public struct AttributeChange: Equatable, Sendable {
        /// The attribute; its raw value is the name `plan` prints ("mtu", "mac", "alias", "local", "dev", "learning").
        public let attribute: LinkAttribute
        /// The value the kernel holds.
        public let old: String
        /// The value the config wants.
        public let new: String
        /// Why, when it is not the plain drift (an adoption).
        public var note: String? = nil
    }

    /// One change to an object gatepeer owns; `line` is its text in `plan`, `json` its
    /// `plan --json` form, `identity` what it is about regardless of values.
    public enum Change: Equatable, Sendable {
        case deleteRoute(ObservedRoute, linkName: String?)
        case deleteLink(name: String, index: Int32, reason: String)
        case createLink(LinkSpec)
        case changeLink(LinkSpec, index: Int32, [AttributeChange])
        case setSysctl(SysctlKey, old: String?, new: String)
        /// The entry exactly as observed: the kernel deletes only a remote matching all of it.
        case deleteFDB(link: String, ObservedFDBEntry, reason: String)
        case appendFDB(link: String, destination: IPAddress)
        /// `reason`: why an address gatepeer wants is deleted (it is added back later in
        /// the plan), nil for an address that is not in the config.
        case deleteAddress(link: String, index: Int32, IPPrefix, reason: String? = nil)
        case addAddress(link: String, IPPrefix)
        case setLinkUp(link: String)
        case addRoute(link: String, LANRoute)
        case replaceRoute(link: String, LANRoute, old: ObservedRoute)
        /// Load table inet gatepeer in one transaction (old: the fingerprint it replaces).
        case replaceFilter(NftRuleset, old: String?)
        case deleteFilter
        /// Reload table inet gatepeer in full (never as a delta): its fingerprint is the
        /// config's but its content is not what gatepeer loaded (`reason`: the first
        /// differences, e.g. "chain forward: 0 rules, want 4").
        case repairFilter(NftRuleset, reason: String)
        /// Delete table inet gatepeer_stage, left by a load that was interrupted.
        case deleteStaging
        /// Add a grant's or a learned address's element the kernel lacks.
        case addElement(NftElement)
        /// Delete an element of a grant or learned set that no state file explains.
        case deleteElement(NftElement)
    }
}

extension Plan.Change {
    /// "+", "~" or "-".
    public var sign: String {
        switch self {
        case .createLink, .appendFDB, .addAddress, .addRoute: return "+"
        case .deleteRoute, .deleteLink, .deleteFDB, .deleteAddress, .deleteFilter, .deleteStaging, .deleteElement: return "-"
        case .addElement: return "+"
        case .repairFilter: return "~"
        case .replaceFilter(_, let old): return old == nil ? "+" : "~"
        case .changeLink, .setLinkUp, .replaceRoute: return "~"
        case .setSysctl(_, let old, _): return old == nil ? "+" : "~"
        }
    }

    /// True for a change that loads table inet gatepeer whole or swaps its maps' elements
    /// (replaceFilter, repairFilter): the kernel then sends a notification per rule and
    /// element.
    public var loadsTable: Bool {
        switch self {
        case .replaceFilter, .repairFilter: return true
        default: return false
        }
    }

    /// The kind of object as `plan --json` names it: "route", "link", "sysctl", "fdb",
    /// "address" or "nftables".
    public var object: String {
        switch self {
        case .deleteRoute, .addRoute, .replaceRoute: return "route"
        case .deleteLink, .createLink, .changeLink, .setLinkUp: return "link"
        case .setSysctl: return "sysctl"
        case .deleteFDB, .appendFDB: return "fdb"
        case .deleteAddress, .addAddress: return "address"
        case .replaceFilter, .deleteFilter, .repairFilter, .deleteStaging, .addElement, .deleteElement: return "nftables"
        }
    }

    /// One line a person reads at a glance.
    public var line: String {
        switch self {
        case .deleteRoute(let r, let link):
            let via = r.gateway.map { " via \($0)" } ?? ""
            return "- route \(r.destination)\(via)\(link.map { " dev \($0)" } ?? "") (not in config)"
        case .deleteLink(let name, _, let reason):
            return "- link \(name) (\(reason))"
        case .createLink(let s):
            return "+ link \(s.name) vxlan id \(s.vxlanId) port \(s.port) srcport \(s.portRange) dev \(s.underlayName) local \(s.local) mtu \(s.mtu) mac \(s.mac) learning \(s.learning ? "on" : "off")"
        case .changeLink(let s, _, let attrs):
            return "~ link \(s.name) " + attrs.map { "\($0.attribute) \($0.old) -> \($0.new)\($0.note.map { " (\($0))" } ?? "")" }.joined(separator: ", ")
        case .setSysctl(let key, let old, let new):
            return old.map { "~ sysctl \(key) \($0) -> \(new)" } ?? "+ sysctl \(key) = \(new)"
        case .deleteFDB(let link, let e, let reason):
            return "- fdb \(link) \(e.mac)\(e.destination.map { " dst \($0)" } ?? "")\(e.attributeText) (\(reason))"
        case .appendFDB(let link, let dst):
            return "+ fdb \(link) 00:00:00:00:00:00 dst \(dst)"
        case .deleteAddress(let link, _, let p, let reason):
            return "- address \(p) dev \(link)\(reason.map { " (\($0))" } ?? "")"
        case .addAddress(let link, let p):
            return "+ address \(p) dev \(link)"
        case .setLinkUp(let link):
            return "~ link \(link) state down -> up"
        case .addRoute(let link, let r):
            return "+ route \(r.destination) via \(r.via) dev \(link) proto gatepeer"
        case .replaceRoute(let link, let r, let old):
            // The same route again: the address change before it flushes it.
            if old.gateway == r.via { return "~ route \(r.destination) via \(r.via) dev \(link) (again after the address change)" }
            let oldVia = old.gateway.map { "\($0)" } ?? "none"
            return "~ route \(r.destination) via \(oldVia) -> \(r.via) dev \(link)"
        case .replaceFilter(let rs, let old):
            let what = "table inet gatepeer (\(rs.compiled.count) outbound group(s), \(rs.elementCount) set elements)"
            if let old { return "~ nftables \(what) fingerprint \(old.isEmpty ? "none" : old) -> \(rs.fingerprint)" }
            return "+ nftables \(what) fingerprint \(rs.fingerprint)"
        case .deleteFilter:
            return "- nftables table inet gatepeer (no links and no filter in config)"
        case .repairFilter(_, let reason):
            return "~ nftables table inet gatepeer: content differs from what gatepeer loaded (\(reason))"
        case .deleteStaging:
            return "- nftables table inet \(NftNames.stagingTable) (left by an interrupted load)"
        case .addElement(let e):
            return "+ nftables element \(e.set) { \(e.keyText) }"
        case .deleteElement(let e):
            return "- nftables element \(e.set) { \(e.keyText) } (no \(NftNames.isGrantSet(e.set) ? "grant" : "learned address") explains it)"
        }
    }

    /// Machine-readable form for `plan --json`.
    public var json: [String: JSONOut] {
        var d: [String: JSONOut] = ["op": .string(sign), "object": .string(object), "text": .string(String(line.dropFirst(2)))]
        switch self {
        case .deleteRoute(let r, let link):
            d["destination"] = .string(r.destination.description)
            if let g = r.gateway { d["via"] = .string(g.description) }
            if let link { d["link"] = .string(link) }
        case .deleteLink(let name, _, let reason):
            d["link"] = .string(name); d["reason"] = .string(reason)
        case .createLink(let s):
            d["link"] = .string(s.name)
        case .changeLink(let s, _, let attrs):
            d["link"] = .string(s.name)
            d["changes"] = .array(attrs.map { .object(["attribute": .string($0.attribute.rawValue), "old": .string($0.old), "new": .string($0.new)]) })
        case .setSysctl(let key, let old, let new):
            d["key"] = .string(key.description); d["old"] = old.map { .string($0) } ?? .null; d["new"] = .string(new)
        case .deleteFDB(let link, let e, let reason):
            d["link"] = .string(link); d["mac"] = .string(e.mac.description); d["reason"] = .string(reason)
            d["destination"] = e.destination.map { .string($0.description) } ?? .null
            if let p = e.port { d["port"] = .int(Int64(p)) }
            if let v = e.vni { d["vni"] = .int(Int64(v)) }
        case .appendFDB(let link, let dst):
            d["link"] = .string(link); d["destination"] = .string(dst.description)
        case .deleteAddress(let link, _, let p, let reason):
            d["link"] = .string(link); d["address"] = .string(p.description)
            if let reason { d["reason"] = .string(reason) }
        case .addAddress(let link, let p):
            d["link"] = .string(link); d["address"] = .string(p.description)
        case .setLinkUp(let link):
            d["link"] = .string(link)
        case .addRoute(let link, let r), .replaceRoute(let link, let r, _):
            d["link"] = .string(link); d["destination"] = .string(r.destination.description); d["via"] = .string(r.via.description)
        case .replaceFilter(let rs, let old):
            d["table"] = .string("inet gatepeer"); d["fingerprint"] = .string(rs.fingerprint)
            d["oldFingerprint"] = old.map { .string($0) } ?? .null
            d["elements"] = .int(Int64(rs.elementCount))
        case .deleteFilter:
            d["table"] = .string("inet gatepeer")
        case .repairFilter(let rs, let reason):
            d["table"] = .string("inet gatepeer"); d["fingerprint"] = .string(rs.fingerprint); d["reason"] = .string(reason)
        case .deleteStaging:
            d["table"] = .string("inet \(NftNames.stagingTable)")
        case .addElement(let e), .deleteElement(let e):
            d["set"] = .string(e.set); d["element"] = .string(e.keyText)
        }
        return d
    }
}

extension Plan.Change {
    /// What the change is about, independent of the values it compares: the same change
    /// planned again after an apply has the same identity (a sysctl once "+ = 2" because
    /// the device was missing is "~ 1 -> 2" if the write did not stick).
    public var identity: String {
        switch self {
        case .deleteRoute(let r, _): return "delete route \(r.destination) \(r.gateway.map { "\($0)" } ?? "") \(r.outputIndex ?? 0) \(r.priority ?? 0)"
        case .deleteLink(let name, let idx, _): return "delete link \(name) \(idx)"
        case .createLink(let s): return "create link \(s.name)"
        case .changeLink(let s, let idx, _): return "change link \(s.name) \(idx)"
        case .setSysctl(let key, _, _): return "sysctl \(key)"
        case .deleteFDB(let link, let e, _): return "delete fdb \(link) \(e.mac) \(e.destination.map { "\($0)" } ?? "")\(e.attributeText)"
        case .appendFDB(let link, let dst): return "append fdb \(link) \(dst)"
        case .deleteAddress(let link, _, let p, _): return "delete address \(link) \(p)"
        case .addAddress(let link, let p): return "add address \(link) \(p)"
        case .setLinkUp(let link): return "up \(link)"
        case .addRoute(_, let r), .replaceRoute(_, let r, _): return "route \(r.destination)"
        case .replaceFilter, .deleteFilter, .repairFilter: return "nftables"
        case .deleteStaging: return "nftables staging"
        case .addElement(let e): return "add element \(e.set) \(e.keyText)"
        case .deleteElement(let e): return "delete element \(e.set) \(e.keyText)"
        }
    }
}
