import CSystem
import Glibc

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
