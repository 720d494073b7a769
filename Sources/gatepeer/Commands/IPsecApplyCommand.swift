import GatePeerCore
import GatePeerKernel
import Glibc

/// `gatepeer ipsec apply`: writes our end of a site as swanctl configuration (0600, it
/// holds the key) into /etc/swanctl/conf.d or $GATEPEER_SWANCTL_DIR, then runs
/// `swanctl --load-all`; its exit status decides ours.
enum IPsecApplyCommand: GatePeerCommand {
    static let words = ["ipsec", "apply"]
    static let options: [OptionSpec] = [.config, .site]

    static func run(_ c: CommandContext) throws(UsageError) -> Exit {
        let sites = IPsecSites(c, verb: "apply", config: c.loadConfig())
        let s = try sites.required(c.invocation.value(.site))
        guard let files = sites.render(s, format: .swanctl, side: .local) else { return .usage }
        let dir = Settings.current.swanctlDirectory
        let written = IPsecSites.write(files.map { RenderedFile(name: $0.name, content: $0.content, secret: true) }, into: dir)
        guard written == .ok else { return written }
        do {
            let status = try Child.run("swanctl", ["--load-all"])
            if status.exitCode == 0 { return .ok }
            Console.error("gatepeer: swanctl --load-all exited \(status.shellCode)")
        } catch where error.errno == .noSuchFile {
            Console.error("gatepeer: cannot run swanctl: not found on PATH")
        } catch {
            Console.error("gatepeer: cannot run swanctl --load-all: \(error)")
        }
        return .runtime
    }
}
