import GatePeerCore
import GatePeerKernel
import Glibc

/// The operator's terminal: progress and problems on stderr.
enum Console {
    /// One message on stderr. Stdout is flushed first so the two streams stay in order on
    /// a terminal. Through Echo.text: a message echoing input cannot put raw control
    /// characters or an unbounded line on the operator's terminal. A failed write (stderr
    /// closed) is dropped: there is nowhere left to say it. When stderr is the journal
    /// (the unit's `run` refusing its config, ExecReload's `validate`), each line gets the
    /// error priority prefix `<3>`, so `journalctl -p err` shows it.
    static func error(_ s: String) {
        fflush(nil)  // all output streams
        var text = Echo.text(s)
        if Journal.toJournal {
            text = text.split(separator: "\n", omittingEmptySubsequences: false).map { "<\(LogPriority.error.rawValue)>" + $0 }.joined(separator: "\n")
        }
        try? IO.writeAll(STDERR_FILENO, Array((text + "\n").utf8))
    }
}
