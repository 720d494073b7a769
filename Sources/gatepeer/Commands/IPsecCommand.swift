import Foundation
import GatePeerCore
import GatePeerKernel
import Glibc

let ipsecUsage = """
usage: gatepeer ipsec render --site NAME --format swanctl|strongswan-legacy|libreswan|sheet
                             --side local|remote [--out DIR] [-c FILE]
       gatepeer ipsec lint [--site NAME] [-c FILE]
       gatepeer ipsec psk
       gatepeer ipsec apply --site NAME [-c FILE]

render: the site's configuration for our end (--side local) or the mirror image for the
other end (--side remote). Without --out it is printed; with --out the files are written
into DIR (files holding keys 0600, the others 0644; nothing else in DIR is touched).
lint: the site's proposals, selectors and key file; warnings (weak algorithms a site
allowed with allowWeak, start action none) and errors, one per line. Exit 2 on errors.
psk: a fresh pre-shared key: 48 letters and digits starting with a letter, 285 bits of entropy (for a 0600 key file).
apply: writes our end to /etc/swanctl/conf.d/gatepeer-NAME.conf (0600) and runs
swanctl --load-all (GATEPEER_SWANCTL_DIR overrides the directory).
"""

func runIPsec(_ o: Options) -> Exit {
    guard let sub = o.positional.first else {
        stderr("gatepeer: ipsec needs a subcommand: render, lint, psk or apply")
        return .usage
    }
    let flags: [String: String]
    let allowed: [String: [String]] = ["render": ["--site", "--format", "--side", "--out"], "lint": ["--site"], "psk": [], "apply": ["--site"]]
    guard let valid = allowed[sub] else {
        stderr("gatepeer: unknown ipsec subcommand \(Echo.quoted(sub)); valid: render, lint, psk, apply")
        return .usage
    }
    switch optionPairs(Array(o.positional.dropFirst()), allowed: valid) {
    case .success(let f): flags = f
    case .failure(.unexpected(let flag)):
        stderr("gatepeer: ipsec \(sub): unexpected \(Echo.quoted(flag))\(valid.isEmpty ? "; it takes no options" : "; valid: " + valid.joined(separator: ", ") + " (each with a value)")")
        return .usage
    case .failure(.repeated(let flag, let a, let b)):
        stderr("gatepeer: ipsec \(sub): " + OptionProblem.repeatedMessage(flag, a, b))
        return .usage
    }
    if sub == "psk" {
        guard let key = IPsecLint.newPSK(random: { randomBytes(64) }) else {
            stderr("gatepeer: no random bytes: \(String(cString: strerror(errno)))"); return .runtime
        }
        print(key)
        return .ok
    }

    // lint on a config that does not decode: its problems are printed (stderr), then the
    // key files its sites name are checked too, so every problem comes in one run.
    let config = loadConfig(o.configPath, beforeExit: sub != "lint" ? nil : { bytes in
        var report = LintReport()
        for (i, name, file) in IPsecDecoder.keyFiles(bytes: bytes)
        where flags["--site"] == nil || flags["--site"] == name {
            for f in readKey(file: file, index: i).findings { report.add(f) }
        }
        for line in report.lines() { print(line) }
    })
    let sites = config.ipsec?.sites ?? []
    func site(required: Bool) -> IPsecSite?? {
        guard let name = flags["--site"] else {
            if required { stderr("gatepeer: ipsec \(sub): --site is required; sites: \(sites.map(\.name).joined(separator: ", "))") }
            return required ? nil : .some(nil)
        }
        guard let s = sites.first(where: { $0.name == name }) else {
            stderr("gatepeer: --site: no site \"\(Echo.value(name))\" in \(Echo.path(o.configPath)); valid: \(sites.isEmpty ? "(no ipsec.sites)" : sites.map(\.name).joined(separator: ", "))")
            return nil
        }
        return .some(s)
    }

    switch sub {
    case "lint":
        guard let chosen = site(required: false) else { return .usage }
        var report = LintReport()
        let devices = config.links.map { ($0.name, $0.deviceSubnet) }
        for (i, s) in sites.enumerated() where chosen == nil || chosen == s {
            let findings = IPsecLint.check(s, path: "ipsec.sites[\(i)]", deviceSubnets: devices) + readKey(s, index: i).findings
            for f in findings { report.add(f) }
            if findings.isEmpty { report.ok("ok: ipsec.sites[\(i)] (\(s.name))") }
        }
        for line in report.lines() { print(line) }
        return report.errors == 0 ? .ok : .usage

    case "render":
        guard let chosen = site(required: true), let s = chosen else { return .usage }
        guard let formatText = flags["--format"], let format = IPsecFormat(rawValue: formatText) else {
            stderr("gatepeer: ipsec render: --format \(flags["--format"].map { "\(Echo.quoted($0)) is not a format" } ?? "is required"); valid: \(IPsecFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            return .usage
        }
        guard let sideText = flags["--side"], let side = IPsecSide(rawValue: sideText) else {
            stderr("gatepeer: ipsec render: --side \(flags["--side"].map { "\(Echo.quoted($0)) is not a side" } ?? "is required"); valid: local, remote")
            return .usage
        }
        guard let files = renderSite(s, index: sites.firstIndex(of: s)!, format: format, side: side) else { return .usage }
        if let dir = flags["--out"] {
            for f in files {
                if let e = writeFile(dir: dir, f) { stderr("gatepeer: \(e)"); return .runtime }
                stderr("wrote \(Echo.path(dir + "/" + f.name))\(f.secret ? " (0600)" : "")")
            }
        } else {
            for f in files {
                if files.count > 1 { print(Echo.line("# ---- \(f.name) ----")) }
                print(f.content, terminator: "")
            }
        }
        return .ok

    case "apply":
        guard let chosen = site(required: true), let s = chosen else { return .usage }
        guard let files = renderSite(s, index: sites.firstIndex(of: s)!, format: .swanctl, side: .local) else { return .usage }
        guard let dir = try? Settings.directory("GATEPEER_SWANCTL_DIR", default: "/etc/swanctl/conf.d") else { return .usage }  // Settings.check said why
        for f in files {
            if let e = writeFile(dir: dir, RenderedFile(name: f.name, content: f.content, secret: true)) { stderr("gatepeer: \(e)"); return .runtime }
            stderr("wrote \(Echo.path(dir + "/" + f.name)) (0600)")
        }
        let status = spawn("swanctl", ["--load-all"])
        if status != 0 { stderr("gatepeer: swanctl --load-all exited \(status)") }
        return status == 0 ? .ok : .runtime

    default:
        return .usage
    }
}

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

/// Lints the site (errors stop the render), reads its key, renders.
func renderSite(_ s: IPsecSite, index: Int, format: IPsecFormat, side: IPsecSide) -> [RenderedFile]? {
    let (key, findings) = readKey(s, index: index)
    for f in findings { stderr("gatepeer: \(f)") }
    if findings.contains(where: { $0.severity == .error }) { return nil }
    switch IPsecRender.render(s, format: format, side: side, key: key, path: "ipsec.sites[\(index)]") {
    case .success(let files): return files
    case .failure(let e):
        for p in e.problems { stderr("gatepeer: \(p)") }
        return nil
    }
}

/// The site's pre-shared key, checked (mode, length); nil key with certificates.
func readKey(_ s: IPsecSite, index: Int) -> (key: [UInt8]?, findings: [IPsecFinding]) {
    guard case .psk(let file) = s.auth else { return (nil, []) }
    return readKey(file: file, index: index)
}

/// The key in `file`, the key file of site `index`, checked (mode, content, length).
func readKey(file: String, index: Int) -> (key: [UInt8]?, findings: [IPsecFinding]) {
    var st = stat()
    let input: IPsecLint.PSKInput
    if stat(file, &st) != 0 {
        let e = errno
        // Only a missing name gets the "create it" hint; a dangling symbolic link is not
        // missing (writing through it would create its target somewhere else).
        if e == ENOENT && lstat(file, &st) != 0 { input = .absent }
        else { input = .unreadable(e == ENOENT ? "a symbolic link to a missing file" : String(cString: strerror(e))) }
    } else {
        // A regular file only, opened without blocking (a FIFO hung lint), of key size.
        switch Files.read(file, limit: Files.keyLimit) {
        case .success(let bytes): input = .file(mode: UInt32(st.st_mode), bytes: bytes)
        case .failure(let e): input = .unreadable(e.reason)
        }
    }
    return IPsecLint.psk(input, path: "ipsec.sites[\(index)].psk.file", file: file)
}

/// Into `dir` (made if missing): keys 0600, the rest 0644, through Files.replace.
func writeFile(dir: String, _ f: RenderedFile) -> String? {
    var st = stat()
    if stat(dir, &st) != 0 {
        guard mkdir(dir, 0o755) == 0 else { return "cannot create \(dir): \(String(cString: strerror(errno)))" }
    }
    return Files.replace(dir + "/" + f.name, with: Array(f.content.utf8), mode: f.secret ? 0o600 : 0o644)
}

/// `n` bytes from the kernel's CSPRNG (/dev/urandom never blocks once the pool is seeded).
func randomBytes(_ n: Int) -> [UInt8]? {
    let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out = [UInt8](repeating: 0, count: n)
    var got = 0
    while got < n {
        let r = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, n - got) }
        if r < 0 && errno == EINTR { continue }
        guard r > 0 else { return nil }
        got += r
    }
    return out
}

/// Runs a program found on PATH with an argument array (no shell), output inherited.
/// Its exit status, or 127 when it cannot be started.
func spawn(_ program: String, _ args: [String]) -> Int32 {
    fflush(nil)
    var pid: pid_t = 0
    let argv = ([program] + args).map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    guard posix_spawnp(&pid, program, nil, nil, argv, environ) == 0 else {
        stderr("gatepeer: cannot run \(program): not found on PATH")
        return 127
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED / WEXITSTATUS by hand (macros are not imported).
    return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}
