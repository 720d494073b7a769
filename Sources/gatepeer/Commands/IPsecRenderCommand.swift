import GatePeerCore

/// `gatepeer ipsec render`: a site's configuration for our end (--side local) or the
/// other end (--side remote) in one --format; printed, or written into --out DIR.
enum IPsecRenderCommand: GatePeerCommand {
    static let words = ["ipsec", "render"]
    static let options: [OptionSpec] = [.config, .site, .format, .side, .out]

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        let given = c.invocation
        // Every option value is checked before the config is read, and every problem is
        // reported at once: a bad --format was hidden behind a missing --site.
        var problems: [String] = []
        let format = given.value(.format).flatMap(IPsecFormat.init(rawValue:))
        if format == nil {
            problems.append("--format \(given.value(.format).map { "\(Echo.quoted($0)) is not a format" } ?? "is required"); valid: \(IPsecFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let side = given.value(.side).flatMap(IPsecSide.init(rawValue:))
        if side == nil {
            problems.append("--side \(given.value(.side).map { "\(Echo.quoted($0)) is not a side" } ?? "is required"); valid: local, remote")
        }
        // Alone, a missing --site is reported below with the config's site names.
        if given.value(.site) == nil, !problems.isEmpty { problems.append("--site is required; valid: a name in ipsec.sites") }
        if let format, let side, problems.isEmpty {
            let sites = IPsecSites(c, verb: "render", config: c.loadConfig())
            let s = try sites.required(given.value(.site))
            return output(sites.render(s, format: format, side: side), into: given.value(.out))
        }
        throw UsageError(message: problems.map { "ipsec render: \($0)" }.joined(separator: "\n"))
    }

    /// Prints the rendered files, or writes them into `dir`; nil files: the problems were printed.
    private static func output(_ rendered: [RenderedFile]?, into dir: String?) -> Exit {
        guard let files = rendered else { return .usage }
        if let dir { return IPsecSites.write(files, into: dir) }
        for f in files {
            if files.count > 1 { print(Echo.line("# ---- \(f.name) ----")) }
            print(f.content, terminator: "")
        }
        return .ok
    }
}
