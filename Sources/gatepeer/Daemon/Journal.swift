import GatePeerCore
import GatePeerKernel
import Glibc

/// Problems that stand from one run of a periodic task to the next (a blocked link, a
/// change the kernel refuses, a resolver that does not answer): each is logged when it
/// appears, again only when its text changes, and once more when it clears, so a
/// standing fault is two journal lines, not one per resync.
struct StandingProblems {
    private var current: [String] = []

    /// Logs what is new in `now` and what of the last run's is gone ("cleared: ...").
    mutating func update(_ now: [String], log: (String) -> Void = { log($0) }) {
        let was = Set(current), isNow = Set(now)
        for m in now where !was.contains(m) { log(m) }
        for m in current where !isNow.contains(m) { log("cleared: " + m) }
        current = now
    }
}

/// One journal line: through Echo.line, so a value from the config or the kernel can
/// neither forge a line with a newline nor make one of megabytes.
func log(_ s: String) {
    // One write(2) per line (IO.writeAll): lines from the forwarder's threads never mix.
    try? IO.writeAll(STDERR_FILENO, Array(("gatepeer: " + Echo.line(s) + "\n").utf8))
}
