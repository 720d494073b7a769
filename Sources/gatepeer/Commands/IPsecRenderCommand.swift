import GatePeerCore

/// `gatepeer ipsec render`: a site's configuration for our end (--side local) or the
/// other end (--side remote) in one --format; printed, or written into --out DIR.
enum IPsecRenderCommand: GatePeerCommand {
    static let words = ["ipsec", "render"]
    static let options: [OptionSpec] = [.config, .site, .format, .side, .out]

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        let given = c.invocation
        let sites = IPsecSites(c, verb: "render", config: c.loadConfig())
        let s = try sites.required(given.value(.site))
        guard let formatText = given.value(.format), let format = IPsecFormat(rawValue: formatText) else {
            throw UsageError(message: "ipsec render: --format \(given.value(.format).map { "\(Echo.quoted($0)) is not a format" } ?? "is required"); valid: \(IPsecFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let sideText = given.value(.side), let side = IPsecSide(rawValue: sideText) else {
            throw UsageError(message: "ipsec render: --side \(given.value(.side).map { "\(Echo.quoted($0)) is not a side" } ?? "is required"); valid: local, remote")
        }
        guard let files = sites.render(s, format: format, side: side) else { return .usage }
        if let dir = given.value(.out) { return IPsecSites.write(files, into: dir) }
        for f in files {
            if files.count > 1 { print(Echo.line("# ---- \(f.name) ----")) }
            print(f.content, terminator: "")
        }
        return .ok
    }
}
