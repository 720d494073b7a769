/// Where a JSON text stops being JSON (RFC 8259), and why: the parse stops at the first
/// syntax error, there is no tree to report further problems against.
public struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    /// 1-based line of the offending byte.
    public let line: Int
    /// 1-based column, in bytes from the line's start.
    public let column: Int
    /// What was expected or found, such as "expected ':' after key \"mtu\"".
    public let message: String
    /// "line L, column C: MESSAGE".
    public var description: String { "line \(line), column \(column): \(message)" }
}
