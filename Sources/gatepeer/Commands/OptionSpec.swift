/// One option of gatepeer's command line. Every option is spelled the same way for every
/// command: `--long VALUE` or `--long=VALUE` (and `-s VALUE` where it has a short name);
/// a flag takes no value.
struct OptionSpec: Hashable, Sendable {
    /// "--config".
    let long: String
    /// "-c", or nil.
    let short: String?
    /// The value's placeholder in listings ("FILE"), nil for a flag.
    let value: String?
    /// What a missing value should have been ("a file name"), for the refusal.
    let needs: String

    init(_ long: String, short: String? = nil, value: String? = nil, needs: String = "") {
        self.long = long
        self.short = short
        self.value = value
        self.needs = needs
    }

    /// "-c/--config", or "--from" without a short name: how refusals name it.
    var display: String { short.map { "\($0)/\(long)" } ?? long }

    /// "-c/--config FILE": how the valid options are listed.
    var listing: String { display + (value.map { " " + $0 } ?? "") }

    static let config = OptionSpec("--config", short: "-c", value: "FILE", needs: "a file name")
    static let json = OptionSpec("--json", short: "-j")
    static let help = OptionSpec("--help", short: "-h")
    static let version = OptionSpec("--version")
    static let resync = OptionSpec("--resync", value: "SECONDS", needs: "a number of seconds 1..3600")
    static let from = OptionSpec("--from", value: "PREFIX", needs: "a prefix such as 10.128.0.0/16 or an address")
    static let to = OptionSpec("--to", value: "PREFIX", needs: "a prefix such as 10.128.0.0/16 or an address")
    static let proto = OptionSpec("--proto", value: "PROTO", needs: "a protocol such as tcp")
    static let port = OptionSpec("--port", value: "PORTS", needs: "a port or range such as 443 or 8000-8099")
    static let duration = OptionSpec("--for", value: "DURATION", needs: "a duration such as 2h")
    static let site = OptionSpec("--site", value: "NAME", needs: "a site name")
    static let format = OptionSpec("--format", value: "FORMAT", needs: "a format")
    static let side = OptionSpec("--side", value: "SIDE", needs: "local or remote")
    static let out = OptionSpec("--out", value: "DIR", needs: "a directory")
    static let output = OptionSpec("--output", short: "-o", value: "FILE", needs: "a file name")
    static let conntrackd = OptionSpec("--conntrackd")

    /// Every option of every command: a word is read as an option (and whether the next
    /// word is its value) before the command is known, so options may come before the verb.
    /// No name is a flag for one command and takes a value for another.
    static let all: [OptionSpec] = [config, json, help, version, resync, from, to, proto, port, duration, site, format, side, out, output, conntrackd]
}
