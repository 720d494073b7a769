import CSystem
import Glibc

/// Threads and a lock on pthreads, for code that should not load Foundation for
/// `Thread` and `NSLock` (Foundation costs ~3.5 ms CPU at every start; see
/// /work/notes/i11/foundation.md).
public enum Threads {
    /// Starts `body` on a new detached thread named `name` (Linux keeps the first 15
    /// bytes; shown by `ps -L`, `top -H`). Default stack size (ulimit -s). Throws
    /// pthread_create's error (EAGAIN: thread limit reached).
    public static func detach(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        final class Start { let body: @Sendable () -> Void; let name: String; init(_ b: @escaping @Sendable () -> Void, _ n: String) { body = b; name = n } }
        let context = Unmanaged.passRetained(Start(body, name)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            _ = gatepeer_set_thread_name(start.name)
            start.body()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Start>.fromOpaque(context).release()
            throw SystemError("pthread_create", "thread \(name)", Errno(rawValue: rc))
        }
        pthread_detach(thread)
    }
}
