import GatePeerCore
import Glibc

/// `gatepeer ipsec psk`: a fresh pre-shared key on stdout, from the kernel's CSPRNG.
enum IPsecPSKCommand: GatePeerCommand {
    static let words = ["ipsec", "psk"]
    /// -c is accepted (and not read) like every command's.
    static let options: [OptionSpec] = [.config]

    static func run(_ c: CommandContext) -> Exit {
        guard let key = IPsecLint.newPSK(random: { randomBytes(64) }) else {
            Console.error("gatepeer: no random bytes: \(String(cString: strerror(errno)))")
            return .runtime
        }
        print(key)
        return .ok
    }

    /// `n` bytes from the kernel's CSPRNG (/dev/urandom never blocks once the pool is seeded).
    static func randomBytes(_ n: Int) -> [UInt8]? {
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
}
