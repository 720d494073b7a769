import GatePeerCore
import GatePeerKernel
import Glibc

/// Problems that stand from one run of a periodic task to the next (a blocked link, a
/// change the kernel refuses, a resolver that does not answer): each is logged when it
/// appears, again only when its text changes, and once more when it clears, so a
/// standing fault is two journal lines, not one per resync.
struct StandingProblems {
    private var current: [String] = []

    /// Logs what is new in `now` at `priority` and, at info, what of the last run's is
    /// gone ("cleared: ..."), each with `fields`.
    mutating func update(_ now: [String], priority: LogPriority = .warning, _ fields: KeyValuePairs<String, String> = [:]) {
        update(now, new: { log(priority, $0, fields) }, cleared: { log(.info, $0, fields) })
    }

    /// Logs what is new and what is gone ("cleared: ...") both through `log`.
    mutating func update(_ now: [String], log: (String) -> Void) {
        update(now, new: log, cleared: log)
    }

    private mutating func update(_ now: [String], new: (String) -> Void, cleared: (String) -> Void) {
        let was = Set(current), isNow = Set(now)
        for m in now where !was.contains(m) { new(m) }
        for m in current where !isNow.contains(m) { cleared("cleared: " + m) }
        current = now
    }
}

/// A journal priority, as syslog(3) and sd-daemon(3) number them: the line's `<N>`
/// prefix when stderr is the journal.
enum LogPriority: Int, Sendable {
    case error = 3
    case warning = 4
    case info = 6
    case debug = 7
}

/// One journal line at `priority`: the message, then each field as ` key=value` in the
/// order given (a value with a space or a quote is quoted). Keys are the stable ones the
/// docs list (link=, peer=, object=, change=, ...). Through Echo.line, so a value from the
/// config or the kernel can neither forge a line with a newline nor make one of megabytes.
func log(_ priority: LogPriority, _ message: String, _ fields: KeyValuePairs<String, String> = [:]) {
    log(priority, message, fields: fields.map { ($0.key, $0.value) })
}

/// `log` with fields built at run time (`gatepeer ha notify`'s, which depend on what
/// keepalived passed).
func log(_ priority: LogPriority, _ message: String, fields: [(String, String)]) {
    var line = message
    for (k, v) in fields { line += " \(k)=\(Journal.value(v))" }
    Journal.write(priority, line)
}

/// An info line (the daemon's progress), as `log(.info, s)`.
func log(_ s: String) { log(.info, s) }

/// Where the daemon's lines go: stderr, with a `<N>` priority prefix when stderr is the
/// journal (systemd sets JOURNAL_STREAM to stderr's "device:inode"; sd-daemon(3)).
enum Journal {
    static func value(_ v: String) -> String {
        guard v.isEmpty || v.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return v }
        var out = "\""
        for ch in v {
            if ch == "\"" || ch == "\\" { out.append("\\") }
            out.append(ch)
        }
        return out + "\""
    }

    static func write(_ priority: LogPriority, _ line: String) {
        let prefix = toJournal ? "<\(priority.rawValue)>" : ""
        let text = Echo.line(line)
        // One write(2) per line (IO.writeAll): lines from the forwarder's threads never mix.
        try? IO.writeAll(STDERR_FILENO, Array((prefix + "gatepeer: " + text + "\n").utf8))
        if copyFD >= 0 {
            try? IO.writeAll(copyFD, Array("\(PeerStatus.utc(Clock.now())) <\(priority.rawValue)> gatepeer[\(getpid())]: \(text)\n".utf8))
        }
        if stderrIsNull { toSyslog(priority, text) }
    }

    /// A second copy of every line, with time, priority and pid (`gatepeer ha notify`'s
    /// ha-notify.log in the state directory), or -1. Set once at start, before any thread.
    nonisolated(unsafe) static var copyFD: Int32 = -1

    /// True when stderr is /dev/null: keepalived runs its notify and track scripts so
    /// (its scripts' output goes nowhere), and so may other supervisors. Those lines then
    /// also go to syslog(3), which systemd's journal receives on /dev/log.
    static let stderrIsNull: Bool = {
        var err = stat(), null = stat()
        guard fstat(STDERR_FILENO, &err) == 0, stat("/dev/null", &null) == 0 else { return false }
        return (err.st_mode & S_IFMT) == S_IFCHR && err.st_rdev == null.st_rdev
    }()

    private static let syslogOpened: Bool = {
        // openlog keeps the pointer: a string that lives as long as the process.
        openlog(strdup("gatepeer"), LOG_PID, LOG_DAEMON)
        return true
    }()

    private static func toSyslog(_ priority: LogPriority, _ text: String) {
        _ = syslogOpened
        text.withCString { c in withVaList([c]) { vsyslog(Int32(priority.rawValue), "%s", $0) } }
    }

    /// True when stderr is the stream JOURNAL_STREAM names (not when a child of the
    /// service merely inherited the variable with stderr redirected).
    static let toJournal: Bool = {
        guard let v = Environment.get("JOURNAL_STREAM") else { return false }
        let parts = v.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(STDERR_FILENO, &st) == 0 else { return false }
        return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
    }()
}
