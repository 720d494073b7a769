import Dispatch
import Glibc

/// Signal handling: SIGHUP reloads, SIGTERM and SIGINT stop the daemon. The signals are
/// ignored for the process and taken from dispatch sources on the state queue, so a
/// handler runs between two pieces of work, never inside one.
final class SignalService: DaemonService, @unchecked Sendable {
    private let queue: DispatchQueue
    private let onReload: () -> Void
    private let onStop: (Int32) -> Void
    private var sources: [DispatchSourceSignal] = []

    /// `onReload` runs for SIGHUP, `onStop` (with the signal number) for SIGTERM and SIGINT.
    init(queue: DispatchQueue, onReload: @escaping () -> Void, onStop: @escaping (Int32) -> Void) {
        self.queue = queue
        self.onReload = onReload
        self.onStop = onStop
    }

    func start() {
        for sig in [SIGHUP, SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            s.setEventHandler { [unowned self] in sig == SIGHUP ? self.onReload() : self.onStop(sig) }
            s.resume()
            sources.append(s)
        }
    }

    func reload() {}

    func stop() {
        for s in sources { s.cancel() }
        sources = []
    }
}
