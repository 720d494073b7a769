import GatePeerCore
import GatePeerKernel
import Glibc

/// `gatepeer ha render`: keepalived.conf for this node (or with --conntrackd its
/// conntrackd.conf), on stdout or written to -o FILE (0644, replaced atomically); what
/// will not survive a failover (NAT masquerade) as "note:" lines on stderr.
enum HARenderCommand: GatePeerCommand {
    static let words = ["ha", "render"]
    static let options: [OptionSpec] = [.config, .conntrackd, .output]

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        let s = HASection(c, verb: "ha render")
        HASection.printFailoverNotes(s.config)
        let text: String
        if c.invocation.has(.conntrackd) {
            guard let ct = s.ha.conntrackd else {
                Console.error("gatepeer: \(Echo.path(c.configPath)): ha.conntrackd is not set; --conntrackd renders conntrackd.conf from it (e.g. \"conntrackd\": {})")
                return .usage
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
            text = KeepalivedRender.render(s.config, s.ha, gatepeer: binary, configPath: config)
        }
        guard let out = c.invocation.value(.output) else {
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
}
