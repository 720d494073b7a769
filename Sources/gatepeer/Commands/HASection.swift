import GatePeerCore
import GatePeerKernel
import Glibc

/// What the `ha` commands share: the config with its `ha` section (a config without one is
/// bad input for them), and the absolute paths the rendered keepalived.conf calls back.
struct HASection {
    /// The whole config.
    let config: GatePeerConfig
    /// Its `ha` section.
    let ha: HAConfig

    /// The config of `c`, exiting 2 (bad input) when it has no `ha` section; `verb` names
    /// the command in the message.
    init(_ c: CommandContext, verb: String) {
        let config = c.loadConfig()
        guard let ha = config.ha else {
            Console.error("gatepeer: \(Echo.path(c.configPath)) has no ha section; \(verb) needs one (docs/ha.md)")
            exit(Exit.usage.rawValue)
        }
        self.config = config
        self.ha = ha
    }

    /// HAConfig.failoverNotes for `config` as "note: ..." lines on stderr.
    static func printFailoverNotes(_ config: GatePeerConfig) {
        for n in HAConfig.failoverNotes(config.filter) { Console.error("note: \(n)") }
    }

    /// `path` made absolute against the working directory (keepalived runs its scripts
    /// from /), or nil when it cannot be.
    static func absolute(_ path: String) -> String? {
        if path.hasPrefix("/") { return path }
        var buf = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buf, buf.count) != nil else { return nil }
        let cwd = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (cwd == "/" ? "" : cwd) + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }

    /// The running binary's absolute path (/proc/self/exe), for the scripts keepalived runs.
    static func executable() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count)
        guard n > 0, n < buf.count else { return nil }
        return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True when `path` can stand in a keepalived script string and be split by it into
    /// arguments unchanged: no whitespace, quotes, backslash or control characters.
    static func scriptSafe(_ path: String) -> Bool {
        !path.isEmpty && !path.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7f || $0 == "\"" || $0 == "'" || $0 == "\\" }
    }
}
