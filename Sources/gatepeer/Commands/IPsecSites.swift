import GatePeerCore
import GatePeerKernel
import Glibc

/// What the ipsec subcommands share: the config's sites, the one --site names, the
/// pre-shared key files, rendering, and writing the rendered files.
struct IPsecSites {
    /// "render", "lint" or "apply", for messages.
    let verb: String
    /// The config's ipsec.sites (none without an ipsec section).
    let sites: [IPsecSite]
    /// The config file, for messages.
    let configPath: String

    init(_ c: CommandContext, verb: String, config: GatePeerConfig) {
        self.verb = verb
        sites = config.ipsec?.sites ?? []
        configPath = c.configPath
    }

    /// The site --site names, nil when none is named (all sites). Throws when it names no
    /// site of the config (listing the valid names).
    func chosen(_ name: String?) throws(UsageError) -> IPsecSite? {
        guard let name else { return nil }
        guard let s = sites.first(where: { $0.name == name }) else {
            throw UsageError(message: "--site: no site \"\(Echo.value(name))\" in \(Echo.path(configPath)); valid: \(sites.isEmpty ? "(no ipsec.sites)" : sites.map(\.name).joined(separator: ", "))")
        }
        return s
    }

    /// The site --site names; throws when none is named or it names no site of the config.
    func required(_ name: String?) throws(UsageError) -> IPsecSite {
        guard let s = try chosen(name) else {
            throw UsageError(message: "ipsec \(verb): --site is required; sites: \(sites.map(\.name).joined(separator: ", "))")
        }
        return s
    }

    /// Lints the site (errors stop the render), reads its key, renders; nil after printing
    /// the problems.
    func render(_ s: IPsecSite, format: IPsecFormat, side: IPsecSide) -> [RenderedFile]? {
        let index = sites.firstIndex(of: s)!
        let (key, findings) = IPsecSites.readKey(s, index: index)
        for f in findings { Console.error("gatepeer: \(f)") }
        if findings.contains(where: { $0.severity == .error }) { return nil }
        switch IPsecRender.render(s, format: format, side: side, key: key, path: "ipsec.sites[\(index)]") {
        case .success(let files): return files
        case .failure(let e):
            for p in e.problems { Console.error("gatepeer: \(p)") }
            return nil
        }
    }

    /// The site's pre-shared key, checked (mode, length); nil key with certificates.
    static func readKey(_ s: IPsecSite, index: Int) -> (key: [UInt8]?, findings: [IPsecFinding]) {
        guard case .psk(let file) = s.auth else { return (nil, []) }
        return readKey(file: file, index: index)
    }

    /// The key in `file`, the key file of site `index`, checked (mode, content, length).
    static func readKey(file: String, index: Int) -> (key: [UInt8]?, findings: [IPsecFinding]) {
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

    /// Writes `files` into `dir` (made 0755 if missing) through Files.replace, each `mode`
    /// or by its secrecy (keys 0600, the rest 0644), saying "wrote PATH" on stderr for each;
    /// exit 1 naming the path at the first that fails (a failed write is a runtime failure,
    /// not a usage error).
    static func write(_ files: [RenderedFile], into dir: String) -> Exit {
        var st = stat()
        if stat(dir, &st) != 0 && mkdir(dir, 0o755) != 0 {
            Console.error("gatepeer: cannot create \(SystemError("mkdir", dir, Errno(rawValue: errno)))")
            return .runtime
        }
        for f in files {
            if let e = Files.replace(dir + "/" + f.name, with: Array(f.content.utf8), mode: f.secret ? 0o600 : 0o644) {
                Console.error("gatepeer: \(e)")
                return .runtime
            }
            Console.error("wrote \(Echo.path(dir + "/" + f.name))\(f.secret ? " (0600)" : "")")
        }
        return .ok
    }
}
