import GatePeerCore
import GatePeerKernel
import Glibc

/// `gatepeer ipsec psk`: a fresh pre-shared key on stdout, from the kernel's CSPRNG.
enum IPsecPSKCommand: GatePeerCommand {
    static let words = ["ipsec", "psk"]
    /// -c is accepted (and not read) like every command's.
    static let options: [OptionSpec] = [.config]

    static func run(_ c: CommandContext) -> Exit {
        var failure: SystemError?
        let key = IPsecLint.newPSK(random: {
            do throws(SystemError) { return try randomBytes(64) } catch { failure = error; return nil }
        })
        guard let key else {
            Console.error("gatepeer: no random bytes: \(failure.map { "\($0)" } ?? "the generator gave up")")
            return .runtime
        }
        print(key)
        return .ok
    }

    /// `n` bytes from the kernel's CSPRNG (/dev/urandom never blocks once the pool is
    /// seeded); throws the failed call naming /dev/urandom.
    static func randomBytes(_ n: Int) throws(SystemError) -> [UInt8] {
        let path = "/dev/urandom"
        let fd: Int32
        do { fd = try valueOrErrno { open(path, O_RDONLY | O_CLOEXEC) } } catch { throw SystemError("open", path, error) }
        defer { close(fd) }
        let bytes: [UInt8]
        do { bytes = try IO.read(fd, exactly: n) } catch { throw SystemError("read", path, error) }
        // A character device that ends early: not the kernel's urandom.
        guard bytes.count == n else { throw SystemError("read", path, .ioError) }
        return bytes
    }
}
