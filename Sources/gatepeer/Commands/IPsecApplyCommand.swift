import GatePeerCore
import GatePeerKernel
import Glibc

/// `gatepeer ipsec apply`: writes our end of a site as swanctl configuration (0600, it
/// holds the key) into /etc/swanctl/conf.d or $GATEPEER_SWANCTL_DIR, then runs
/// `swanctl --load-all`; its exit status decides ours.
enum IPsecApplyCommand: GatePeerCommand {
    static let words = ["ipsec", "apply"]
    static let options: [OptionSpec] = [.config, .site]

    static func run(_ c: CommandContext) -> Exit {
        let sites = IPsecSites(c, verb: "apply", config: c.loadConfig())
        guard let chosen = sites.chosen(c.invocation.value(.site), required: true), let s = chosen,
              let files = sites.render(s, format: .swanctl, side: .local) else { return .usage }
        guard let dir = try? Settings.directory("GATEPEER_SWANCTL_DIR", default: "/etc/swanctl/conf.d") else { return .usage }  // Settings.check said why
        let written = IPsecSites.write(files.map { RenderedFile(name: $0.name, content: $0.content, secret: true) }, into: dir)
        guard written == .ok else { return written }
        let status = spawn("swanctl", ["--load-all"])
        if status != 0 { Console.error("gatepeer: swanctl --load-all exited \(status)") }
        return status == 0 ? .ok : .runtime
    }

    /// Runs a program found on PATH with an argument array (no shell), output inherited.
    /// Its exit status, or 127 when it cannot be started.
    static func spawn(_ program: String, _ args: [String]) -> Int32 {
        fflush(nil)
        var pid: pid_t = 0
        let argv = ([program] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        guard posix_spawnp(&pid, program, nil, nil, argv, environ) == 0 else {
            Console.error("gatepeer: cannot run \(program): not found on PATH")
            return 127
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS by hand (macros are not imported).
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
