import CNetlink
import GatePeerCore
import Glibc

/// /proc/sys of the calling process's network namespace. Reads and writes go through
/// the System layer (EINTR retried, writes complete or an error).
public enum Sysctl {
    /// The value with surrounding whitespace trimmed; nil when the key does not exist
    /// (no such device, IPv6 off) or cannot be read.
    public static func read(_ key: SysctlKey) -> String? {
        let fd = retryingInterrupts { open(key.procPath, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let bytes = try? IO.read(fd, upTo: 256), !bytes.isEmpty else { return nil }
        return String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
    }

    /// Writes `value` and a newline. Throws KernelError naming the key and the errno the
    /// kernel answered (EINVAL for a value out of range, ENOENT for a missing key).
    public static func write(_ key: SysctlKey, _ value: String) throws {
        let fd = retryingInterrupts { open(key.procPath, O_WRONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw KernelError(object: "sysctl \(key)", errno: Errno.current.rawValue) }
        defer { close(fd) }
        do {
            try IO.writeAll(fd, Array((value + "\n").utf8))
        } catch {
            throw KernelError(object: "sysctl \(key) = \(value)", errno: error.rawValue)
        }
    }
}
