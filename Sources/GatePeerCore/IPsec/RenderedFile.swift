/// One file IPsecRender produces: its name (relative, such as `gatepeer-hq.conf`), its
/// text, and whether it holds key material.
public struct RenderedFile: Equatable, Sendable {
    /// File name, without a directory.
    public let name: String
    /// The whole file, UTF-8 text ending in a newline.
    public let content: String
    /// Holds key material: written 0600.
    public let secret: Bool

    /// A file as a renderer builds it.
    public init(name: String, content: String, secret: Bool) {
        self.name = name
        self.content = content
        self.secret = secret
    }
}
