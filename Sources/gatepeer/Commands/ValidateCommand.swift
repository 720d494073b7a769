import GatePeerCore

/// `gatepeer validate`: decodes and checks the config without touching the kernel; with
/// `ha`, what will not survive a failover as "note:" lines on stderr.
enum ValidateCommand: GatePeerCommand {
    static let words = ["validate"]
    static let options: [OptionSpec] = [.config]

    static func run(_ c: CommandContext) -> Exit {
        let config = c.loadConfig()
        print("\(Echo.path(c.configPath)): valid, \(config.links.count) link(s)")
        if config.ha != nil { HASection.printFailoverNotes(config) }
        return .ok
    }
}
