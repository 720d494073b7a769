/// A sysctl by its components, so that interface names containing dots (eth0.100)
/// map to the right /proc/sys path.
public struct SysctlKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The dotted name's parts, such as ["net", "ipv4", "conf", "eth0.100", "rp_filter"].
    public let components: [String]
    /// A key from its parts.
    public init(_ components: String...) { self.components = components }
    /// A key from its parts.
    public init(components: [String]) { self.components = components }
    /// The dotted name as `sysctl` writes it (net.ipv4.ip_forward).
    public var description: String { components.joined(separator: ".") }
    /// The file under /proc/sys that holds the value.
    public var procPath: String { "/proc/sys/" + components.joined(separator: "/") }
    /// The interface a per-device key (net.ipv4.conf.DEV.x) is about; nil for global keys.
    public var device: String? {
        guard components.count == 5, components[2] == "conf", !["all", "default"].contains(components[3]) else { return nil }
        return components[3]
    }
    /// A net.ipv6 key (absent when the namespace has no IPv6).
    public var isIPv6: Bool { components.count > 1 && components[1] == "ipv6" }
    /// By dotted name, for stable output.
    public static func < (a: SysctlKey, b: SysctlKey) -> Bool { a.description < b.description }

    /// IPv4 forwarding (`forwarding` in the config).
    public static let ipv4Forward = SysctlKey("net", "ipv4", "ip_forward")
    /// IPv6 forwarding, when a link carries IPv6.
    public static let ipv6Forward = SysctlKey("net", "ipv6", "conf", "all", "forwarding")
    /// Reverse path filtering of `dev` (gatepeer sets 2, loose, on its links).
    public static func rpFilter(_ dev: String) -> SysctlKey { SysctlKey("net", "ipv4", "conf", dev, "rp_filter") }
    /// Whether `dev` accepts IPv6 router advertisements (gatepeer sets 0 on its links).
    public static func acceptRA(_ dev: String) -> SysctlKey { SysctlKey("net", "ipv6", "conf", dev, "accept_ra") }
}
