import GatePeerCore

/// `gatepeer ipsec lint`: each site's proposals, selectors and key file; warnings and
/// errors one per line on stdout. Exit 2 on errors (the config is bad input).
enum IPsecLintCommand: GatePeerCommand {
    static let words = ["ipsec", "lint"]
    static let options: [OptionSpec] = [.config, .site]

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        let siteName = c.invocation.value(.site)
        // On a config that does not decode its problems are printed (stderr), then the key
        // files its sites name are checked too, so every problem comes in one run.
        let config = c.loadConfig(beforeExit: { bytes in
            var report = LintReport()
            for (i, name, file) in IPsecDecoder.keyFiles(bytes: bytes)
            where siteName == nil || siteName == name {
                for f in IPsecSites.readKey(file: file, index: i).findings { report.add(f) }
            }
            for line in report.lines() { print(line) }
        })
        let sites = IPsecSites(c, verb: "lint", config: config)
        let chosen = try sites.chosen(siteName)
        var report = LintReport()
        let devices = config.links.map { ($0.name, $0.deviceSubnet) }
        for (i, s) in sites.sites.enumerated() where chosen == nil || chosen == s {
            let findings = IPsecLint.check(s, path: "ipsec.sites[\(i)]", deviceSubnets: devices) + IPsecSites.readKey(s, index: i).findings
            for f in findings { report.add(f) }
            if findings.isEmpty { report.ok("ok: ipsec.sites[\(i)] (\(s.name))") }
        }
        for line in report.lines() { print(line) }
        return report.errors == 0 ? .ok : .usage
    }
}
