/// A sysctl by its components, so that interface names containing dots (eth0.100)
/// map to the right /proc/sys path.
public struct SysctlKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let components: [String]
    public init(_ components: String...) { self.components = components }
    public init(components: [String]) { self.components = components }
    public var description: String { components.joined(separator: ".") }
    public var procPath: String { "/proc/sys/" + components.joined(separator: "/") }
    /// The interface a per-device key (net.ipv4.conf.DEV.x) is about; nil for global keys.
    public var device: String? {
        guard components.count == 5, components[2] == "conf", !["all", "default"].contains(components[3]) else { return nil }
        return components[3]
    }
    public var isIPv6: Bool { components.count > 1 && components[1] == "ipv6" }
    public static func < (a: SysctlKey, b: SysctlKey) -> Bool { a.description < b.description }

    public static let ipv4Forward = SysctlKey("net", "ipv4", "ip_forward")
    public static let ipv6Forward = SysctlKey("net", "ipv6", "conf", "all", "forwarding")
    public static func rpFilter(_ dev: String) -> SysctlKey { SysctlKey("net", "ipv4", "conf", dev, "rp_filter") }
    public static func acceptRA(_ dev: String) -> SysctlKey { SysctlKey("net", "ipv6", "conf", dev, "accept_ra") }
}
