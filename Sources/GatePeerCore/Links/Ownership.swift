/// Names and numbers that mark what gatepeer owns in the kernel.
public enum Ownership {
    /// Route protocol number for every route we install (declared in
    /// netconfig/rt_protos.d/gatepeer.conf). Numbers >= 4 are free for daemons; 201 is
    /// unused by the well-known ones (bird 12, keepalived 18, babel 42, bgp 186..192).
    public static let routeProtocol: UInt8 = 201
    /// Interface alias prefix: a link is ours only if its alias is `gatepeer:<name>`.
    public static let aliasPrefix = "gatepeer:"
    /// The alias (IFLA_IFALIAS) of our link `name`.
    public static func alias(forLink name: String) -> String { aliasPrefix + name }
}
