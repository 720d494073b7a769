import CSystem
import Glibc

/// Calls `body` again for as long as it returns -1 with errno EINTR: the one place where
/// gatepeer retries an interrupted system call. Returns the last result unchanged, so
/// errno still describes a -1. Only for calls that are safe to repeat after EINTR (read,
/// write, send, recv, poll, waitpid, flock, open; not close(2), which Linux has already
/// done when it reports EINTR).
public func retryingInterrupts<T: FixedWidthInteger & SignedInteger>(_ body: () -> T) -> T {
    while true {
        let result = body()
        if result != -1 || Errno.current != .interrupted { return result }
    }
}

/// `body`'s result, EINTR retried (`retryingInterrupts`); throws the errno when it
/// returns -1. For the usual C convention: -1 and errno on failure.
public func valueOrErrno<T: FixedWidthInteger & SignedInteger>(_ body: () -> T) throws(Errno) -> T {
    let result = retryingInterrupts(body)
    if result == -1 { throw Errno.current }
    return result
}

/// Clocks as seconds in a Double (ns resolution for a few months of uptime, µs for
/// wall-clock dates): what deadlines and timestamps in gatepeer are measured in.
public enum Clock {
    /// CLOCK_MONOTONIC: seconds since an arbitrary point at boot; never jumps when the
    /// wall clock is set, so deadlines and durations use it.
    public static func monotonic() -> Double { read(CLOCK_MONOTONIC) }

    /// CLOCK_REALTIME: seconds since 1970-01-01 00:00 UTC, for timestamps people read
    /// (replaces Foundation's Date() where only the number is needed).
    public static func now() -> Double { read(CLOCK_REALTIME) }

    private static func read(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// The process environment without Foundation's ProcessInfo (which loads its whole
/// environment into a dictionary on first use).
public enum Environment {
    /// The value of `name`, nil when unset. An empty value is returned as "".
    public static func get(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// Waiting for a descriptor with poll(2).
public enum Poll {
    /// Waits until `fd` is ready for `events` (POLLIN, POLLOUT) or reports an error or
    /// hang-up (so that the next call on it returns that), or `deadline` (Clock.monotonic
    /// seconds; nil: no deadline) passes. True when ready, false when the deadline passed.
    /// Throws poll's errno (EINTR is retried).
    public static func wait(_ fd: Int32, for events: Int16, until deadline: Double?) throws(Errno) -> Bool {
        while true {
            var timeout: Int32 = -1
            if let deadline {
                let left = deadline - Clock.monotonic()
                guard left > 0 else { return false }
                // Capped so that a clock far ahead cannot overflow; the loop waits again.
                timeout = Int32(min((left * 1000).rounded(.up), 60_000))
            }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let n = try valueOrErrno { poll(&pfd, 1, timeout) }
            if n > 0 && pfd.revents & (events | Int16(POLLERR) | Int16(POLLHUP) | Int16(POLLNVAL)) != 0 { return true }
        }
    }
}

/// Reads and writes on a descriptor that handle what a single read(2) or write(2) may
/// do: transfer less than asked (pipes, sockets, signals), fail with EINTR, or, on a
/// non-blocking descriptor, fail with EAGAIN until poll(2) says it is ready. Errors are
/// the call's errno; a `deadline` (Clock.monotonic seconds) that passes is ETIMEDOUT.
public enum IO {
    /// Writes all of `bytes` with write(2). On a non-blocking descriptor waits for room
    /// until `deadline` (nil: no deadline). A socket whose peer is gone raises SIGPIPE
    /// with write(2): use `sendAll` for sockets.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, until deadline: Double? = nil) throws(Errno) {
        let done = try transfer(fd, bytes.count, events: Int16(POLLOUT), until: deadline) { offset in
            write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        }
        if done < bytes.count { throw .ioError }  // write(2) returned 0 for a nonzero count
    }

    /// `writeAll` for an array.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], until deadline: Double? = nil) throws(Errno) {
        let failure = bytes.withUnsafeBytes { b -> Errno? in
            do throws(Errno) { try writeAll(fd, b, until: deadline) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// `writeAll` for a socket: send(2) with MSG_NOSIGNAL, so a closed peer is EPIPE, not
    /// a SIGPIPE that ends the process.
    public static func sendAll(_ fd: Int32, _ bytes: [UInt8], until deadline: Double? = nil) throws(Errno) {
        let result = bytes.withUnsafeBytes { b -> Result<Int, Errno> in
            do throws(Errno) {
                return .success(try transfer(fd, b.count, events: Int16(POLLOUT), until: deadline) { offset in
                    send(fd, b.baseAddress! + offset, b.count - offset, Int32(MSG_NOSIGNAL))
                })
            } catch { return .failure(error) }
        }
        if try result.get() < bytes.count { throw .ioError }
    }

    /// One read(2) of at most `count` bytes: what is there now (a datagram, part of a
    /// stream), waiting until `deadline` on a non-blocking descriptor. Empty at end of
    /// file (or for an empty datagram).
    public static func read(_ fd: Int32, upTo count: Int, until deadline: Double? = nil) throws(Errno) -> [UInt8] {
        var failure: Errno?
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, filled in
            do throws(Errno) {
                filled = try transfer(fd, count, events: Int16(POLLIN), until: deadline, once: true) { _ in
                    Glibc.read(fd, buffer.baseAddress!, count)
                }
            } catch {
                filled = 0
                failure = error
            }
        }
        if let failure { throw failure }
        return out
    }

    /// Fills `buffer` from `fd`; the number of bytes read, fewer than `buffer.count` only
    /// at end of file.
    public static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, until deadline: Double? = nil) throws(Errno) -> Int {
        try transfer(fd, buffer.count, events: Int16(POLLIN), until: deadline) { offset in
            Glibc.read(fd, buffer.baseAddress! + offset, buffer.count - offset)
        }
    }

    /// Exactly `count` bytes, or fewer when the file ends (the peer closed) first.
    public static func read(_ fd: Int32, exactly count: Int, until deadline: Double? = nil) throws(Errno) -> [UInt8] {
        var failure: Errno?
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, filled in
            do throws(Errno) { filled = try readFully(fd, into: UnsafeMutableRawBufferPointer(buffer), until: deadline) } catch {
                filled = 0
                failure = error
            }
        }
        if let failure { throw failure }
        return out
    }

    /// Everything up to end of file, for files whose size is not known in advance (/proc
    /// files report 0, pipes have none). More than `limit` bytes is EFBIG.
    public static func readAll(_ fd: Int32, limit: Int, until deadline: Double? = nil) throws(Errno) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let piece = try read(fd, upTo: min(65536, limit - out.count + 1), until: deadline)
            if piece.isEmpty { return out }
            out += piece
            if out.count > limit { throw Errno(rawValue: EFBIG) }
        }
    }

    /// The one transfer loop: `step(offset)` makes one call for the bytes from `offset`
    /// on and returns its result; repeated until `total` bytes moved or it returns 0 (end
    /// of file), or after the first call that moved any when `once`. EINTR is retried,
    /// EAGAIN waits for `events`. The bytes moved.
    private static func transfer(_ fd: Int32, _ total: Int, events: Int16, until deadline: Double?, once: Bool = false,
                                 _ step: (Int) -> Int) throws(Errno) -> Int {
        var done = 0
        while done < total {
            let n = retryingInterrupts { step(done) }
            if n > 0 { done += n; if once { break }; continue }
            if n == 0 { break }
            let e = Errno.current
            guard e == .wouldBlock else { throw e }
            guard try Poll.wait(fd, for: events, until: deadline) else { throw .timedOut }
        }
        return done
    }
}

/// A child's status as waitpid(2) reports it, decoded with the C macros (through the
/// CSystem shim, since Swift cannot import function-like macros).
public struct ExitStatus: RawRepresentable, Sendable, Equatable, CustomStringConvertible {
    /// The raw status word from waitpid(2).
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// WEXITSTATUS when the child exited (WIFEXITED), else nil.
    public var exitCode: Int32? { gatepeer_wifexited(rawValue) != 0 ? gatepeer_wexitstatus(rawValue) : nil }

    /// WTERMSIG when a signal killed the child (WIFSIGNALED), else nil.
    public var signal: Int32? { gatepeer_wifsignaled(rawValue) != 0 ? gatepeer_wtermsig(rawValue) : nil }

    /// The status as a shell reports it in `$?`: the exit code, or 128 + the signal.
    public var shellCode: Int32 { exitCode ?? (128 + (signal ?? 0)) }

    public var description: String {
        if let code = exitCode { return "exited with status \(code)" }
        if let sig = signal { return "killed by signal \(sig) (\(String(cString: strsignal(sig))))" }
        return "status 0x\(String(rawValue, radix: 16))"
    }
}

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
