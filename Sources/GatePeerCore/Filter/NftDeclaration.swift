/// One declaration in a table block.
public enum NftDeclaration: Equatable, Sendable {
    case set(NftSet)
    /// A named counter (`counter NAME { }`); its values are the kernel's.
    case counter(String)
    case chain(NftChain)

    func write(to out: inout String, leading: [String: String]) {
        switch self {
        case .set(let s): s.write(to: &out, leading: leading[s.name])
        case .counter(let name): out += "  counter \(name) {\n  }\n"
        case .chain(let c): c.write(to: &out)
        }
    }
}
