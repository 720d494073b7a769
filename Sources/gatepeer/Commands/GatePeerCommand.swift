/// One command of the executable (`plan`, `filter grant`, ...): the words that name it,
/// the options it takes, and its entry point. main.swift dispatches to it through
/// CommandLineParser, which has already refused every option the command does not list.
protocol GatePeerCommand {
    /// The words that name it: ["plan"], or a command and its subcommand ["filter", "grant"].
    static var words: [String] { get }
    /// The options it accepts besides -h/--help.
    static var options: [OptionSpec] { get }
    /// Whether words after the command's own are its arguments (`filter check SRC DST`);
    /// otherwise the parser refuses them.
    static var takesArguments: Bool { get }
    /// Runs the command; the exit status says how it ended. Throws when an argument or
    /// option value cannot be used, before anything is changed.
    static func run(_ context: CommandContext) throws(UsageError) -> Exit
}

extension GatePeerCommand {
    static var takesArguments: Bool { false }
}
