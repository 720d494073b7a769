import GatePeerCore

/// What `ipsec lint` prints, bounded like a config report (`ConfigError.reportLimit`
/// lines, then one line counting the rest): a generated config can hold any number of
/// sites and proposals, and each warning would otherwise be a line (5,000 sites with 20
/// weak proposals made 70 MB). Errors come first, so warnings cannot push them out of
/// view; each kind keeps only what it can show, so memory is bounded too.
struct LintReport {
    private(set) var errors = 0
    private(set) var warnings = 0
    private(set) var oks = 0
    private var shown: (errors: [String], warnings: [String], oks: [String]) = ([], [], [])
    private let limit = ConfigError.reportLimit

    mutating func add(_ f: IPsecFinding) {
        if f.severity == .error {
            errors += 1
            if shown.errors.count < limit { shown.errors.append(Echo.line(f.description)) }
        } else {
            warnings += 1
            if shown.warnings.count < limit { shown.warnings.append(Echo.line(f.description)) }
        }
    }

    mutating func ok(_ line: String) {
        oks += 1
        if shown.oks.count < limit { shown.oks.append(Echo.line(line)) }
    }

    /// At most `limit` lines of findings and "ok" lines, errors first, then "... and N
    /// more: E error(s), W warning(s), K site(s) ok" for what was left out.
    func lines() -> [String] {
        let out = Array((shown.errors + shown.warnings + shown.oks).prefix(limit))
        // shown.errors holds min(errors, limit) lines, so the first ones are all errors.
        let e = min(errors, out.count), w = min(warnings, out.count - e), k = out.count - e - w
        let rest = [(errors - e, "error(s)"), (warnings - w, "warning(s)"), (oks - k, "site(s) ok")].filter { $0.0 > 0 }
        guard !rest.isEmpty else { return out }
        let total = rest.map(\.0).reduce(0, +)
        return out + ["... and \(total) more: " + rest.map { "\($0.0) \($0.1)" }.joined(separator: ", ")]
    }
}
