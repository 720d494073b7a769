/// One thing wrong with a config: where it is (a JSON path such as `links[1].vxlanId`)
/// and what would be valid.
///
/// Both are kept as `Echo.line` renders them: the sites quote values through
/// `Echo.value`, and this catches any that does not, so no problem can carry raw
/// control characters or an unbounded value into a terminal or a log.
public struct ConfigProblem: Equatable, Sendable, CustomStringConvertible {
    /// The JSON path of the value, such as `filter.outbound[0].rules[3].ports[1]`; "" for
    /// the input as a whole (not JSON at all).
    public let path: String
    /// What is wrong and what would be valid, such as "70000 is out of range; valid: 1..65535".
    public let message: String
    /// Both texts pass through `Echo.line` (escaped, bounded).
    public init(_ path: String, _ message: String) { self.path = Echo.line(path); self.message = Echo.line(message) }
    /// The report line: "PATH: MESSAGE", or the message alone when the path is "".
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
