import GatePeerCore
import GatePeerKernel
import Glibc

/// `gatepeer ha render`: keepalived.conf for this node (or with --conntrackd its
/// conntrackd.conf), on stdout or written to -o FILE (0644, replaced atomically); what
/// will not survive a failover (NAT masquerade) as "note:" lines on stderr, and what the
/// rendered file does not carry: a conntrackd.conf written elsewhere than
/// ha.conntrackd.configPath (the file `ha notify` gives `conntrackd -C`), and a
/// GATEPEER_STATE_DIR the script lines run without. -o naming the config file itself is
/// bad input (exit 2), the file left untouched.
enum HARenderCommand: GatePeerCommand {
    static let words = ["ha", "render"]
    static let options: [OptionSpec] = [.config, .conntrackd, .output]

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        let out = c.invocation.value(.output)
        if let out, sameFile(out, c.configPath) {
            throw UsageError(message: "-o: \(Echo.quoted(out)) is the config file (-c \(Echo.quoted(c.configPath))); valid: another file, e.g. \(c.invocation.has(.conntrackd) ? "ha.conntrackd.configPath" : "/etc/keepalived/keepalived.conf")")
        }
        let s = HASection(c, verb: "ha render")
        HASection.printFailoverNotes(s.config)
        let text: String
        if c.invocation.has(.conntrackd) {
            guard let ct = s.ha.conntrackd else {
                Console.error("gatepeer: \(Echo.path(c.configPath)): ha.conntrackd is not set; --conntrackd renders conntrackd.conf from it (e.g. \"conntrackd\": {})")
                return .usage
            }
            if let out, !sameFile(out, ct.configPath) {
                Console.error("note: -o \(Echo.path(out)) is not ha.conntrackd.configPath \(Echo.path(ct.configPath)): gatepeer ha notify runs conntrackd -C \(Echo.path(ct.configPath)), so a conntrackd started on this file is not the one its steps reach; write it to configPath or set configPath to this file")
            }
            text = ConntrackdRender.render(s.config, s.ha, ct, configPath: HASection.absolute(c.configPath) ?? c.configPath)
        } else {
            guard let config = HASection.absolute(c.configPath), HASection.scriptSafe(config) else {
                throw UsageError(message: "ha render: config path \(Echo.quoted(c.configPath)) cannot go into keepalived's script lines; valid: a path without spaces, quotes, backslashes or control characters")
            }
            guard let binary = HASection.executable(), HASection.scriptSafe(binary) else {
                Console.error("gatepeer: ha render: the gatepeer binary's path (/proc/self/exe) cannot go into keepalived's script lines; install it where the path has no spaces or quotes")
                return .runtime
            }
            if Environment.get("GATEPEER_STATE_DIR") != nil {
                let dir = Settings.current.stateDirectory
                Console.error("note: GATEPEER_STATE_DIR is set (\(Echo.path(dir))) but the rendered script lines (gatepeer health, gatepeer ha notify) do not carry it: start keepalived with GATEPEER_STATE_DIR=\(Echo.path(dir)) too, or run gatepeer with the default state directory")
            }
            text = KeepalivedRender.render(s.config, s.ha, gatepeer: binary, configPath: config)
        }
        guard let out else {
            print(text, terminator: "")
            return .ok
        }
        if let e = Files.replace(out, with: Array(text.utf8), mode: 0o644) {
            Console.error("gatepeer: \(e)")
            return .runtime
        }
        Console.error("wrote \(Echo.path(out))")
        return .ok
    }

    /// Whether paths `a` and `b` name one file: the same device and inode when both exist
    /// (a symlink or hard link to it included), else the same absolute path.
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        if stat(a, &sa) == 0, stat(b, &sb) == 0 { return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino }
        return (HASection.absolute(a) ?? a) == (HASection.absolute(b) ?? b)
    }
}
