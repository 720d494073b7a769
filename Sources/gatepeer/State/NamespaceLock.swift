import GatePeerCore
import GatePeerKernel
import Glibc

/// Another gatepeer process holds a lock we need: who, so the message can name it.
struct LockBusy: Error, CustomStringConvertible {
    let path: String
    /// "pid N (command)" as the holder wrote it, or a note that it wrote nothing yet.
    let holder: String
    let waited: Double
    var description: String {
        "another gatepeer writer is active in this network namespace: \(holder) holds \(path)" + (waited > 0 ? " (waited \(Int(waited)) s)" : "")
    }
}

/// flock(2) locks in /run/gatepeer (0700) keyed by the namespace inode, so every gatepeer
/// process in one network namespace meets the same locks whatever its state directory,
/// and processes in other namespaces never wait on them. The kernel drops a lock when its
/// holder exits, also on SIGKILL.
///
/// The files do not pile up (one pair per namespace ever used, 726 on a test machine):
/// the last holder unlinks its file when it lets go, and the commands that take a lock
/// remove those of namespaces that no longer exist (`sweep`). Unlinking a lock file is
/// safe only because every taker checks, once it holds the lock, that the path still
/// names the file it locked (`isCurrent`), and opens the path again when not: a process
/// that opened the file just before it was unlinked would otherwise hold a lock nobody
/// else can meet.
final class NamespaceLock {
    static let directory = "/run/gatepeer"
    /// How long a writer waits for another (seconds): $GATEPEER_LOCK_WAIT or 10.
    static var defaultWait: Double { Settings.current.lockWait }

    /// $GATEPEER_LOCK_WAIT as seconds (10 when unset); throws naming the variable and what
    /// is valid when it is not a number of seconds from 0 to 86400.
    static func waitFromEnvironment() throws(SettingError) -> Double {
        guard let t = Environment.get("GATEPEER_LOCK_WAIT") else { return 10 }
        // Plain decimal only: Double() also reads "0x10" (16), "1e1" and "+3".
        // Spaces and tabs around it, not a newline: "10\n" is no number of seconds.
        let blank: (Character) -> Bool = { $0.isWhitespace && !$0.isNewline }
        let text = String(t.drop(while: blank).reversed().drop(while: blank).reversed())
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        // The whole seconds as every number (DecimalText: "010" and "+3" are not), the
        // fraction any digits ("2.05").
        let decimal = (1...2).contains(parts.count) && DecimalText.parse(parts[0], in: 0...86400) != nil
            && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0 >= "0" && $0 <= "9" } }
        guard decimal, let w = Double(text), w.isFinite, w >= 0, w <= 86400 else {
            throw SettingError(message: "GATEPEER_LOCK_WAIT=\(Echo.quoted(t)) is not a number of seconds; valid: 0 to 86400, e.g. 10 or 2.5 (how long a writer waits for another)")
        }
        return w
    }

    private let fd: Int32
    private let path: String
    /// Whether we wrote our name into the file, to clear it before letting go (so a reader
    /// holding it shared later is not named after us).
    private let named: Bool

    private init(fd: Int32, path: String, named: Bool) {
        self.fd = fd
        self.path = path
        self.named = named
    }

    /// Lets go, unlinking the file first when no one else holds or waits on it (we hold
    /// it exclusively, or a shared holder finds itself the last): a waiter that had it
    /// open finds the path changed and opens it anew.
    deinit {
        if named { ftruncate(fd, 0) }
        if retryingInterrupts({ flock(fd, LOCK_EX | LOCK_NB) }) == 0 { Self.unlinkIfCurrent(fd, path) }
        close(fd)
    }

    /// The writer lock, held around every kernel write (apply, down, grant, revoke, each
    /// reconcile and learned-element load of the daemon) and around reading the state the
    /// write carries. `shared`: readers that must see the state and the kernel agree (plan)
    /// take it shared, so they run together but never beside a writer. Waits up to `wait`
    /// seconds, telling the user once who it waits for (when `announce`); throws LockBusy.
    static func writer(_ ns: NetworkNamespace, command: String, shared: Bool = false, wait: Double = defaultWait,
                       announce: (String) -> Void = { Console.error("gatepeer: \($0)") }) throws -> NamespaceLock {
        let path = directory + "/netns-\(ns.inode).lock"
        let deadline = Clock.monotonic() + wait
        var announced = false
        var fd = try openLockFile(path)
        while true {
            if retryingInterrupts({ flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) }) == 0 {
                if isCurrent(fd, path) { break }
                // Unlinked by its last holder after we opened it: the lock is the new file's.
                close(fd)
                fd = try openLockFile(path)
                continue
            }
            let e = Errno.current
            guard e == .wouldBlock else {
                close(fd)
                throw SystemError("flock", path, e)
            }
            if Clock.monotonic() >= deadline {
                let holder = holderText(fd)
                close(fd)
                throw LockBusy(path: path, holder: holder, waited: wait)
            }
            if !announced {
                announce("waiting for \(holderText(fd)), which holds \(path)")
                announced = true
            }
            usleep(20_000)
        }
        // For the message another process prints; a reader holding it shared writes nothing.
        if !shared { name(fd, "pid \(getpid()) (\(command))") }
        return NamespaceLock(fd: fd, path: path, named: !shared)
    }

    /// The daemon lock, held by `gatepeer run` for its whole life. Throws LockBusy naming
    /// the running daemon when there is one, SystemError when the lock file cannot be made.
    static func daemon(_ ns: NetworkNamespace) throws -> NamespaceLock {
        sweep(keeping: ns)
        let path = directory + "/netns-\(ns.inode).daemon"
        var fd = try openLockFile(path)
        // A file that is being unlinked, or one a sweep holds for a moment (it has no pid
        // in it then), is no running daemon: try again, for at most a second.
        let deadline = Clock.monotonic() + 1
        while true {
            if retryingInterrupts({ flock(fd, LOCK_EX | LOCK_NB) }) == 0 {
                if isCurrent(fd, path) { break }
            } else if !contents(fd).trimmingWhitespace().isEmpty || Clock.monotonic() >= deadline {
                let holder = holderText(fd)
                close(fd)
                throw LockBusy(path: path, holder: holder, waited: 0)
            } else {
                usleep(20_000)
            }
            close(fd)
            fd = try openLockFile(path)
        }
        name(fd, "\(getpid())")
        return NamespaceLock(fd: fd, path: path, named: false)
    }

    /// Writes `text` and a newline as the whole content of the lock file `fd` (freshly
    /// opened, so at offset 0): who holds it, for the message of a process that waits.
    /// Best effort: a name that cannot be written leaves the holder unnamed.
    private static func name(_ fd: Int32, _ text: String) {
        ftruncate(fd, 0)
        try? IO.writeAll(fd, Array((text + "\n").utf8))
    }

    /// The pid of the `gatepeer run` that manages this namespace, or nil when none does.
    static func runningDaemon(_ ns: NetworkNamespace) -> String? {
        let path = directory + "/netns-\(ns.inode).daemon"
        // Non-blocking like every read (Files.read): a FIFO here must not hang a command.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // A daemon writes its pid as soon as it holds the file; a holder without one for
        // a second is a sweep or a daemon starting, so look again until then.
        let deadline = Clock.monotonic() + 1
        while true {
            if retryingInterrupts({ flock(fd, LOCK_SH | LOCK_NB) }) == 0 {
                flock(fd, LOCK_UN)
                return nil
            }
            let pid = contents(fd).trimmingWhitespace()
            if !pid.isEmpty { return pid }
            if Clock.monotonic() >= deadline { return "?" }
            usleep(20_000)
        }
    }

    /// The message for `apply` and `down` while a daemon manages the namespace.
    static func daemonMessage(pid: String) -> String {
        "gatepeer run (pid \(pid)) manages this network namespace; edit the config and reload it (kill -HUP \(pid), or systemctl reload gatepeer)"
    }

    /// Opens (creating it 0600, and /run/gatepeer 0700) the lock file `path`; throws
    /// SystemError naming the call and the path.
    private static func openLockFile(_ path: String) throws(SystemError) -> Int32 {
        if mkdir(directory, 0o700) != 0 && Errno.current != .exists { throw SystemError("mkdir", directory, .current) }
        do {
            return try valueOrErrno { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        } catch {
            throw SystemError("open", path, error)
        }
    }

    /// Whether `path` still names the file open as `fd` (same device and inode): false
    /// once its last holder unlinked it (or a sweep did), after which the path, created
    /// again, is the lock every other process meets.
    private static func isCurrent(_ fd: Int32, _ path: String) -> Bool {
        var open = stat(), named = stat()
        guard fstat(fd, &open) == 0, lstat(path, &named) == 0 else { return false }
        return open.st_dev == named.st_dev && open.st_ino == named.st_ino
    }

    /// Unlinks `path` if it still names `fd`'s file; the caller holds that file exclusively.
    private static func unlinkIfCurrent(_ fd: Int32, _ path: String) {
        if isCurrent(fd, path) { unlink(path) }
    }

    /// Removes the lock files of network namespaces that no longer exist: no /run/netns
    /// entry and no process we can see is in them (one scan of /proc for all files), and
    /// not `ours`. Each is unlinked only while held exclusively and still named by its
    /// path, so a process that opened it meanwhile goes on to the new file; that makes
    /// removing even a live namespace's unused file harmless (say one whose processes we
    /// may not see, as PID 1's), which is why a partial scan of /proc is enough. Best
    /// effort: whatever fails stays for the next sweep.
    static func sweep(keeping ours: NetworkNamespace) {
        guard let names = try? Files.entries(directory), var live = NetworkNamespace.liveInodes(partial: true) else { return }
        live.insert(ours.inode)
        for name in names where name.hasPrefix("netns-") {
            let stem = name.dropFirst("netns-".count).prefix { $0 != "." }
            guard let inode = UInt64(stem), !live.contains(inode),
                  name.hasSuffix(".lock") || name.hasSuffix(".daemon") else { continue }
            let path = directory + "/" + name
            let fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
            guard fd >= 0 else { continue }
            if retryingInterrupts({ flock(fd, LOCK_EX | LOCK_NB) }) == 0 { unlinkIfCurrent(fd, path) }
            close(fd)
        }
    }

    private static func holderText(_ fd: Int32) -> String {
        let t = contents(fd).trimmingWhitespace()
        return t.isEmpty ? "another gatepeer process (a plan, or one that has not written its name yet)" : t
    }

    private static func contents(_ fd: Int32) -> String {
        var buf = [UInt8](repeating: 0, count: 512)
        let n = buf.withUnsafeMutableBytes { b in retryingInterrupts { pread(fd, b.baseAddress, b.count, 0) } }
        return n > 0 ? String(decoding: buf[..<n], as: UTF8.self) : ""
    }
}

extension StateStore {
    /// The namespace's writer lock for `command` run from the shell (exclusive; shared for
    /// `plan`), after which this store may write (`holdsWriterLock`). Waits as
    /// NamespaceLock.writer does. `apply` and `down` are also refused while `gatepeer run`
    /// manages the namespace: the daemon would put its own config back at its next resync,
    /// so the change would not hold. Checked after the writer lock is held, so a daemon
    /// that starts meanwhile waits for this command and then converges after it. Throws
    /// StateError with the message for the user (without the "gatepeer: " prefix): the
    /// command, then LockBusy's or SystemError's text, or the daemon that manages the
    /// namespace. The one way a command takes the writer lock (apply, down, plan, grant,
    /// revoke); the daemon takes NamespaceLock.writer itself around each reconcile.
    func lockForWriting(_ command: String) throws(StateError) -> NamespaceLock {
        let line = (["gatepeer"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        NamespaceLock.sweep(keeping: namespace)
        let lock: NamespaceLock
        do {
            lock = try NamespaceLock.writer(namespace, command: String(line.prefix(200)), shared: command == "plan")
        } catch {
            throw StateError(message: "\(command): \(error)")
        }
        holdsWriterLock = command != "plan"
        if command == "apply" || command == "down", let pid = NamespaceLock.runningDaemon(namespace) {
            throw StateError(message: NamespaceLock.daemonMessage(pid: pid))
        }
        return lock
    }
}
