/// The `ipsec` section of a config: the site-to-site links, each one source of truth
/// for both ends (IPsecSite). Decoded by IPsecDecoder.
public struct IPsecConfig: Equatable, Sendable {
    /// In config order; names are unique, and so are the connection names they render.
    public var sites: [IPsecSite]
    /// Sites as given; IPsecDecoder checks names and renders before building one.
    public init(sites: [IPsecSite]) { self.sites = sites }
}
