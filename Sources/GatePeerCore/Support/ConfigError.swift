/// The problems of one input (a config, a grants state file, an IPsec site to render),
/// as a decoder's `Result` carries them: bad input, which the CLI reports and exits 2 for
/// without touching the kernel. Memory stays linear in the input and bounded: the first
/// `Problems.kept` problems are kept, the rest only counted (`more`).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// The problems kept, in the order found (at most `Problems.kept`).
    public let problems: [ConfigProblem]
    /// Problems found beyond those kept.
    public let more: Int
    /// `problems` in the order found; `more`: how many were found beyond them.
    public init(problems: [ConfigProblem], more: Int = 0) { self.problems = problems; self.more = more }
    /// Every problem found, kept or only counted.
    public var count: Int { problems.count + more }
    /// `report()` as one text, lines separated by "\n".
    public var description: String { report().joined(separator: "\n") }

    /// How many problems a report lists: enough to fix a file in a round or two, few
    /// enough that a hostile or badly generated file cannot flood a terminal or a log.
    public static let reportLimit = 50

    /// The problems as report lines, `indent` first: at most `reportLimit`, then
    /// "... and N more problem(s)" counting the rest.
    public func report(indent: String = "") -> [String] {
        var lines = problems.prefix(ConfigError.reportLimit).map { indent + $0.description }
        let rest = count - lines.count
        if rest > 0 { lines.append("\(indent)... and \(rest) more problem(s)") }
        return lines
    }
}
