import GatePeerCore
import GatePeerKernel
import Glibc

/// The operator's terminal: progress and problems on stderr.
enum Console {
    /// One message on stderr. Stdout is flushed first so the two streams stay in order on
    /// a terminal. Through Echo.text: a message echoing input cannot put raw control
    /// characters or an unbounded line on the operator's terminal. A failed write (stderr
    /// closed) is dropped: there is nowhere left to say it.
    static func error(_ s: String) {
        fflush(nil)  // all output streams
        try? IO.writeAll(STDERR_FILENO, Array((Echo.text(s) + "\n").utf8))
    }
}
