import CSystem
import Glibc

/// A child's status as waitpid(2) reports it, decoded with the C macros (through the
/// CSystem shim, since Swift cannot import function-like macros).
public struct ExitStatus: RawRepresentable, Sendable, Equatable, CustomStringConvertible {
    /// The raw status word from waitpid(2).
    public let rawValue: Int32

    /// `rawValue`: the status word waitpid(2) stored.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// WEXITSTATUS when the child exited (WIFEXITED), else nil.
    public var exitCode: Int32? { gatepeer_wifexited(rawValue) != 0 ? gatepeer_wexitstatus(rawValue) : nil }

    /// WTERMSIG when a signal killed the child (WIFSIGNALED), else nil.
    public var signal: Int32? { gatepeer_wifsignaled(rawValue) != 0 ? gatepeer_wtermsig(rawValue) : nil }

    /// The status as a shell reports it in `$?`: the exit code, or 128 + the signal.
    public var shellCode: Int32 { exitCode ?? (128 + (signal ?? 0)) }

    /// "exited with status N", "killed by signal N (strsignal)", or the raw word in hex.
    public var description: String {
        if let code = exitCode { return "exited with status \(code)" }
        if let sig = signal { return "killed by signal \(sig) (\(String(cString: strsignal(sig))))" }
        return "status 0x\(String(rawValue, radix: 16))"
    }
}
