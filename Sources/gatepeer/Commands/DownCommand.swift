import GatePeerCore

/// `gatepeer down`: removes every object gatepeer owns in this network namespace, by
/// converging to a config without links (and so without a filter table).
enum DownCommand: GatePeerCommand {
    static let words = ["down"]
    /// -c is accepted (and not read) so a script can give every command the same options.
    static let options: [OptionSpec] = [.config, .json]

    static func run(_ c: CommandContext) -> Exit {
        ApplyCommand.converge(c, verb: "down", to: GatePeerConfig(forwarding: false, links: []))
    }
}
