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
