import CSystem
import Glibc

/// Child processes: start one and wait for it, without Foundation's Process.
public enum Child {
    /// Starts `program` (looked up on PATH when it has no slash) with `arguments` (no
    /// shell), stdin, stdout and stderr inherited; the child's pid. Throws posix_spawnp's
    /// error (ENOENT: not found on PATH). Flushes stdio first so that output printed
    /// before stays before the child's.
    public static func spawn(_ program: String, _ arguments: [String]) throws(SystemError) -> pid_t {
        fflush(nil)
        var pid: pid_t = 0
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        let rc = posix_spawnp(&pid, program, nil, nil, argv, environ)
        guard rc == 0 else { throw SystemError("posix_spawnp", program, Errno(rawValue: rc)) }
        return pid
    }

    /// Waits for child `pid` to end (EINTR retried); its status.
    public static func wait(_ pid: pid_t) throws(SystemError) -> ExitStatus {
        var status: Int32 = 0
        do { _ = try valueOrErrno { waitpid(pid, &status, 0) } } catch { throw SystemError("waitpid", "pid \(pid)", error) }
        return ExitStatus(rawValue: status)
    }

    /// `spawn` then `wait`.
    public static func run(_ program: String, _ arguments: [String]) throws(SystemError) -> ExitStatus {
        try wait(spawn(program, arguments))
    }
}
