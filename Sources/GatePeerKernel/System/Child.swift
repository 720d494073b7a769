import CSystem
import Glibc

/// Child processes: start one and wait for it, without Foundation's Process.
public enum Child {
    /// Starts `program` (looked up on PATH when it has no slash) with `arguments` (no
    /// shell), stdin, stdout and stderr inherited; the child's pid. Throws posix_spawnp's
    /// error (ENOENT: not found on PATH). Flushes stdio first so that output printed
    /// before stays before the child's.
    /// With `ownGroup` the child leads a new process group (its pid is the group's id), so
    /// everything it starts can be signalled at once.
    public static func spawn(_ program: String, _ arguments: [String], ownGroup: Bool = false) throws(SystemError) -> pid_t {
        fflush(nil)
        var pid: pid_t = 0
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        if ownGroup {
            posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
            posix_spawnattr_setpgroup(&attr, 0)
        }
        let rc = posix_spawnp(&pid, program, nil, &attr, argv, environ)
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

    /// `spawn` in a process group of its own, then waits at most `timeout` seconds: the
    /// status, or nil when the child was still running then and its whole group has been
    /// killed (SIGKILL: a hook's own children too, which would otherwise outlive it holding
    /// its output) and the child reaped. Polls every 10 ms (waitpid with WNOHANG): for the
    /// hooks `gatepeer ha notify` runs, which take seconds.
    public static func run(_ program: String, _ arguments: [String], timeout: Double) throws(SystemError) -> ExitStatus? {
        let pid = try spawn(program, arguments, ownGroup: true)
        let deadline = Clock.monotonic() + timeout
        var status: Int32 = 0
        while true {
            let r: Int32
            do { r = try valueOrErrno { waitpid(pid, &status, WNOHANG) } } catch { throw SystemError("waitpid", "pid \(pid)", error) }
            if r == pid { return ExitStatus(rawValue: status) }
            if Clock.monotonic() >= deadline {
                kill(-pid, SIGKILL)
                _ = try wait(pid)
                return nil
            }
            usleep(10_000)
        }
    }
}
