import Foundation
import GatePeerCore
import GatePeerKernel
import Glibc

/// The network namespace this process runs in. `inode` is the inode of /proc/self/ns/net
/// (the kernel's nsfs file): two processes share a namespace exactly when they see the
/// same inode, whatever their mount namespace or state directory.
struct NetworkNamespace: Equatable {
    let inode: UInt64
    /// "netns/NAME" for the /run/netns entry whose inode is ours (exact inode match, never
    /// a name pattern); else "host" for PID 1's namespace (the system's own, also when
    /// PID 1's cannot be read, see `current()`); else "netns/ino-INODE". Also the state
    /// directory below the base, "host" being the base.
    let name: String

    /// Reads /proc/self/ns/net, the bind mounts in /run/netns and /proc/1/ns/net.
    /// Throws when our own namespace cannot be read (no /proc).
    ///
    /// A namespace with a /run/netns name is that name. Otherwise it is the host's when it
    /// is PID 1's, and also when PID 1's cannot be read: the hardened unit has no
    /// CAP_SYS_PTRACE, and the kernel lets a process read another's namespace links only
    /// with ptrace access (proc(5), /proc/pid/ns), which PID 1 with its full capability
    /// set refuses. Keying that case by inode instead put the service's state in a new
    /// directory at every boot of a container, whose namespace inode changes.
    static func current() throws -> NetworkNamespace {
        guard let ours = inode(of: "/proc/self/ns/net") else {
            throw StateError(message: "cannot read /proc/self/ns/net: \(String(cString: strerror(errno))); gatepeer needs /proc to tell network namespaces apart")
        }
        if let named = namedNamespaces().first(where: { $0.inode == ours })?.name {
            return NetworkNamespace(inode: ours, name: "netns/" + named)
        }
        let first = inode(of: "/proc/1/ns/net")
        if first == nil || first == ours { return NetworkNamespace(inode: ours, name: "host") }
        return NetworkNamespace(inode: ours, name: "netns/ino-\(ours)")
    }

    /// `stat` (following a bind mount to the nsfs file it shows); nil when unreadable.
    static func inode(of path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    /// The entries of /run/netns (as `ip netns add` makes them) with their inodes.
    static func namedNamespaces() -> [(name: String, inode: UInt64)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        return names.filter { !$0.hasPrefix(".") }.compactMap { n in inode(of: "/run/netns/" + n).map { (n, $0) } }
    }

    /// This boot's id (/proc/sys/kernel/random/boot_id); nil when unreadable. Every network
    /// namespace dies at reboot, so a namespace recorded under another boot id is gone.
    static func bootID() -> String? {
        // Not Files.readAll: /proc files report size 0.
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether the namespace with this inode is provably gone: no /run/netns entry holds it
    /// and a complete scan of /proc found no process in it. A /proc/PID/ns/net we may not
    /// read (no CAP_SYS_PTRACE over that process) leaves it unproven, so false; a process
    /// that exits during the scan is no evidence either way and is skipped. A namespace
    /// kept only by an open descriptor or a bind mount outside /run/netns is not seen.
    static func provablyGone(inode: UInt64) -> Bool {
        if namedNamespaces().contains(where: { $0.inode == inode }) { return false }
        guard let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return false }
        for pid in pids where pid.first?.isNumber == true {
            var st = stat()
            if stat("/proc/\(pid)/ns/net", &st) == 0 {
                if UInt64(st.st_ino) == inode { return false }
            } else if errno != ENOENT && errno != ESRCH {
                return false
            }
        }
        return true
    }
}

/// A state problem for the user: the path and what is wrong.
struct StateError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Where gatepeer keeps what the kernel must carry across runs (grants, learned addresses,
/// the filter map cache) for one network namespace and table, and the one place that reads
/// and writes it. The base is $GATEPEER_STATE_DIR or /var/lib/gatepeer; PID 1's namespace
/// keeps its state directly there, any other in `<base>/netns/<name>`, so a grant made in
/// one namespace never reaches another's table. Each directory carries `identity.json`
/// (namespace inode and name, table); a directory made for another namespace is reported
/// and not used: nothing is loaded from it or saved to it.
final class StateStore {
    let namespace: NetworkNamespace
    let table: String
    let directory: String
    /// Why this directory is not used (its identity names another namespace or table), or nil.
    let refusal: String?
    /// Set while this process holds the namespace's writer lock exclusively: only then may
    /// damaged files be moved aside and stale temporaries removed (readers only report).
    var holdsWriterLock = false
    /// State files found damaged by a reader: moved aside before the next write replaces them.
    private var damaged = Set<String>()
    /// grants.json was found damaged at the last read (`loadGrantsIfKnown`).
    private(set) var grantsUnknown = false
    /// Damage reports already written: the daemon reads the state at every resync, and a
    /// file that stays damaged is said once (its `stateProblem` is logged when it clears).
    private var reported = Set<String>()
    /// The identity must be written (missing, or inherited from an earlier incarnation of
    /// this namespace, e.g. before a reboot); `claim()` does it.
    private var identityStale: Bool

    /// $GATEPEER_STATE_DIR or /var/lib/gatepeer. `run` checked it first (`Settings.check`);
    /// a bad value here still ends the process rather than fall back to the host's.
    static var base: String {
        do {
            return try Settings.directory("GATEPEER_STATE_DIR", default: "/var/lib/gatepeer")
        } catch {
            Console.error("gatepeer: \(error)")
            exit(Exit.usage.rawValue)
        }
    }

    init(namespace: NetworkNamespace, table: String = NftRuleset.table) {
        self.namespace = namespace
        self.table = table
        directory = namespace.name == "host" ? StateStore.base : StateStore.base + "/" + namespace.name
        let bytes: [UInt8]
        switch Files.read(directory + "/identity.json", limit: Files.stateLimit) {
        case .success(let b): bytes = b
        case .failure(let e) where e.missing:
            // None yet: a new directory, or one from before directories had an identity
            // (only the host's base could hold such state, and it is the host's).
            refusal = nil
            identityStale = true
            return
        case .failure(let e):
            refusal = "\(e.path) cannot be read (\(e.reason)), so whose state this is cannot be told; nothing is loaded from it or saved to it. "
                + "Move the directory aside, or delete identity.json if it is this namespace's"
            identityStale = false
            return
        }
        guard let identity = try? JSONReader.parse(String(decoding: bytes, as: UTF8.self)).0 else {
            refusal = "\(directory)/identity.json is damaged, so whose state this is cannot be told; nothing is loaded from it or saved to it. "
                + "Move the directory aside, or delete identity.json if it is this namespace's"
            identityStale = false
            return
        }
        func text(_ key: String) -> String? {
            switch identity[key] {
            case .string(let s)?, .number(let s)?: return s
            default: return nil
            }
        }
        let inode = text("netnsInode").flatMap { UInt64($0) }
        let name = text("namespace"), recordedTable = text("table"), recordedBoot = text("bootId")
        let boot = NetworkNamespace.bootID()
        if inode == namespace.inode && name == namespace.name && recordedTable == table {
            refusal = nil
            identityStale = recordedBoot != boot  // same inode, a later boot: record it
        } else if let inode, name == namespace.name, recordedTable == table,
                  (recordedBoot != nil && boot != nil && recordedBoot != boot) || NetworkNamespace.provablyGone(inode: inode) {
            // The same name (or the system's own namespace) made again: the namespace it
            // was written in is provably gone (an earlier boot, or a complete scan did not
            // find it), so nobody else owns it. Unprovable means refused: two unnamed
            // namespaces both count as "host" when PID 1's cannot be read.
            refusal = nil
            identityStale = true
        } else {
            refusal = "state directory \(directory) belongs to network namespace \(name ?? "?") (inode \(inode.map(String.init) ?? "?")), table \(recordedTable ?? "?"), "
                + "not to this one (\(namespace.name), inode \(namespace.inode), table \(table)); nothing is loaded from it or saved to it. "
                + "If that namespace is gone, move the directory aside"
            identityStale = false
        }
    }

    /// Opens the store of the namespace we run in; a refused directory is reported once here.
    static func open() -> StateStore {
        do {
            let s = StateStore(namespace: try NetworkNamespace.current())
            if let r = s.refusal { Console.error("gatepeer: \(r)") }
            return s
        } catch {
            Console.error("gatepeer: \(error)")
            exit(Exit.runtime.rawValue)
        }
    }

    var grantsPath: String { directory + "/grants.json" }
    var learnedPath: String { directory + "/learned.json" }

    /// The filter map cache of this namespace's table; nil when the directory is refused
    /// (then every filter change is a full load).
    var mapCache: MapCache? { refusal == nil ? MapCache(directory: directory) : nil }

    /// What gatepeer last loaded or read of this namespace's table, at which nf_tables
    /// generation (FilterReadCache); nil when the directory is refused (then every plan
    /// reads the table in full).
    var filterReadCache: FilterReadCache? { refusal == nil ? FilterReadCache(directory: directory) : nil }

    /// The grant and learned elements the kernel must hold now, from the state files; none
    /// without a filter section (the table then has no grant or learned sets). `learned`:
    /// the daemon's addresses in memory, else learned.json. State we cannot read must not
    /// strip live grants, so the ones the kernel holds (`observed`, with their remaining
    /// timeouts, so also a full load carries them) are kept as they are: all dynamic
    /// elements when the directory is refused, the grant sets' when grants.json is damaged.
    func dynamicElements(_ config: GatePeerConfig, observed: ObservedState, learned: LearnedAddresses? = nil) -> [NftElement] {
        guard config.filter != nil else { return [] }
        if refusal != nil { return StateStore.kernelDynamicElements(observed) }
        let ms = WallClock.milliseconds()
        let grants = loadGrantsIfKnown().map { GrantState.elements($0, nowMs: ms) }
            ?? StateStore.kernelDynamicElements(observed).filter { $0.set.hasPrefix("grants") }
        return grants + (learned ?? loadLearned()).elements(config, nowMs: ms)
    }

    /// The grant and learned elements of the table as observed (keys, verdicts and the
    /// remaining timeouts the observer read).
    static func kernelDynamicElements(_ observed: ObservedState) -> [NftElement] {
        guard let d = observed.filter?.content?.dynamic else { return [] }
        return d.keys.sorted().flatMap { d[$0]!.map(\.element) }
    }

    /// Why the state this run needed could not be used, or nil: the refused directory, or
    /// a damaged grants.json read during this run. `verb`: "were kept" (a writer) or "are
    /// planned" (plan). `keptDynamic`: the table stays, with the kernel's grants.
    func stateProblem(keptDynamic: Bool, verb: String = "were kept") -> String? {
        if let refusal {
            return "state not used: \(refusal)." + (keptDynamic ? " The kernel's grants and learned addresses \(verb) as they are;" : "") + " nothing was recorded"
        }
        guard grantsUnknown else { return nil }
        return "\(grantsPath) is damaged, so the grants are unknown: the kernel's grant elements \(verb) as they are (with their deadlines). "
            + "Repair the file from the kernel's grants (nft list table inet \(table)), or remove it to let the next apply delete the grants it does not list; "
            + "gatepeer filter revoke still deletes a scope from the kernel"
    }

    /// Makes the directory (0700) and writes its identity when it has none or an inherited
    /// one. Writers call it under the writer lock before they save anything.
    func claim() throws {
        if let refusal { throw StateError(message: refusal) }
        if holdsWriterLock { removeStaleTemporaries() }
        guard identityStale else { return }
        try makeDirectory()
        var identity: [String: JSONOut] = ["netnsInode": .int(Int64(namespace.inode)), "namespace": .string(namespace.name), "table": .string(table)]
        if let boot = NetworkNamespace.bootID() { identity["bootId"] = .string(boot) }
        let text = JSONOut.object(identity).render() + "\n"
        if let e = Files.replace(directory + "/identity.json", with: Array(text.utf8), mode: 0o600, limit: Files.stateLimit) { throw StateError(message: e) }
        identityStale = false
    }

    private func makeDirectory() throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StateError(message: "cannot make state directory \(directory): \(error.localizedDescription)")
        }
    }

    /// The grants in grants.json (all of them, expired too); none when the directory is
    /// refused or the file damaged (reported, see `loadGrantsIfKnown`).
    func loadGrants() -> [Grant] { loadGrantsIfKnown() ?? [] }

    /// The grants in grants.json; nil when it is damaged. A damaged grants.json is
    /// reported and left in place, never moved aside: the grants are unknown until an
    /// operator repairs or removes it, so every reader and writer keeps reporting it and
    /// the kernel's grant elements stay (an empty start would strip live grants).
    func loadGrantsIfKnown() -> [Grant]? {
        let text: String
        switch read(grantsPath) {
        case .success(let t?): text = t
        case .success(nil): return []
        case .failure(let e):
            grantsUnknown = true
            report("gatepeer: \(grantsPath) cannot be read (\(e.reason)); the grants are unknown, it is left in place until repaired or removed")
            return nil
        }
        switch GrantState.decode(text) {
        case .success(let g):
            grantsUnknown = false
            return g
        case .failure(let e):
            grantsUnknown = true
            report("gatepeer: \(grantsPath) is damaged (\(e)); the grants are unknown, it is left in place until repaired or removed")
            return nil
        }
    }

    func saveGrants(_ grants: [Grant]) throws { try saveGrants(text: grantsText(grants)) }

    /// grants.json's new text; throws (naming the file and the limit) when it would be
    /// larger than a read accepts, so a writer can refuse before it changes the kernel.
    func grantsText(_ grants: [Grant]) throws -> String {
        let text = GrantState.encode(grants)
        if let why = Files.tooLarge(grantsPath, bytes: text.utf8.count, limit: Files.stateLimit) {
            throw StateError(message: why + "; revoke grants or let some expire first")
        }
        return text
    }

    /// Writes `grantsText`'s result.
    func saveGrants(text: String) throws { try write(grantsPath, text) }

    /// The addresses learned for domain names; a damaged file is moved aside and reported.
    func loadLearned() -> LearnedAddresses {
        let text: String
        switch read(learnedPath) {
        case .success(let t?): text = t
        case .success(nil): return LearnedAddresses()
        case .failure(let e):
            moveAside(learnedPath, because: e.reason, lost: "no learned addresses loaded from it")
            return LearnedAddresses()
        }
        guard let l = LearnedAddresses.decode(text) else {
            moveAside(learnedPath, because: "not a learned-addresses file", lost: "no learned addresses loaded from it")
            return LearnedAddresses()
        }
        return l
    }

    func saveLearned(_ l: LearnedAddresses) throws { try write(learnedPath, l.encode()) }

    /// The file's text; nil when the directory is refused or the file absent. Bytes that
    /// are not UTF-8 count as damage and reach the decoder as replacement characters. A
    /// file that is there but cannot be read (not a regular file, over Files.stateLimit,
    /// an I/O error) is a failure naming why: damage, not an empty state.
    private func read(_ path: String) -> Result<String?, Files.ReadError> {
        guard refusal == nil else { return .success(nil) }
        switch Files.read(path, limit: Files.stateLimit) {
        case .success(let bytes): return .success(String(decoding: bytes, as: UTF8.self))
        case .failure(let e) where e.missing: return .success(nil)
        case .failure(let e): return .failure(e)
        }
    }

    /// Removes `.NAME.tmp.PID` files (Files.replace's temporaries) whose writer is gone
    /// (kill(PID, 0) answers ESRCH), left by a write that was killed before its rename.
    private func removeStaleTemporaries() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for n in names where n.hasPrefix(".") {
            guard let r = n.range(of: ".tmp.", options: .backwards), let pid = Int32(n[r.upperBound...]), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(directory + "/" + n) }
        }
    }

    /// `message` on stderr unless this store said it before.
    private func report(_ message: String) {
        if reported.insert(message).inserted { Console.error(message) }
    }

    /// Keeps the evidence of a damaged file: the next write must not replace it unseen.
    /// Only a holder of the writer lock moves it; a reader reports it and reads nothing.
    private func moveAside(_ path: String, because reason: String, lost: String) {
        guard holdsWriterLock else {
            damaged.insert(path)
            report("gatepeer: \(path) is damaged (\(reason)); " + lost + " (a writer moves it aside)")
            return
        }
        damaged.remove(path)
        let aside = path + ".damaged-\(WallClock.seconds())"
        let moved = rename(path, aside) == 0
        Console.error("gatepeer: \(path) is damaged (\(reason)); " + (moved ? "moved to \(aside), " : "cannot move it aside (\(String(cString: strerror(errno)))), ") + lost)
    }

    /// Writes a state file (0600 from the start, synced, renamed over the old one). One
    /// larger than Files.stateLimit is refused before anything is written: the next read
    /// would refuse it and take the state with it.
    private func write(_ path: String, _ text: String) throws {
        if let why = Files.tooLarge(path, bytes: text.utf8.count, limit: Files.stateLimit) { throw StateError(message: why) }
        try claim()
        if damaged.contains(path), holdsWriterLock {
            moveAside(path, because: "found damaged earlier", lost: "replaced by this write")
        }
        if let e = Files.replace(path, with: Array(text.utf8), mode: 0o600, limit: Files.stateLimit) { throw StateError(message: e) }
    }
}

/// The GATEPEER_* environment variables gatepeer reads, checked before any command does
/// anything: a bad value is bad input (exit 2, naming the variable and what is valid),
/// never a fallback. An empty or relative directory resolved against the cwd ("relstate")
/// or the root ("" + "/netns/..."), so state landed wherever the command was started.
enum Settings {
    /// Every variable: GATEPEER_LOCK_WAIT (seconds), GATEPEER_STATE_DIR and
    /// GATEPEER_SWANCTL_DIR (absolute directories). Throws the first problem.
    static func check() throws {
        _ = try NamespaceLock.waitFromEnvironment()
        _ = try directory("GATEPEER_STATE_DIR", default: "/var/lib/gatepeer")
        _ = try directory("GATEPEER_SWANCTL_DIR", default: "/etc/swanctl/conf.d")
    }

    /// The directory in variable `name`, `default` when unset; throws when it is set but
    /// not an absolute path.
    static func directory(_ name: String, default fallback: String) throws -> String {
        guard let v = ProcessInfo.processInfo.environment[name] else { return fallback }
        guard v.hasPrefix("/") else {
            throw StateError(message: "\(name)=\(Echo.quoted(v, limit: Echo.pathLimit)) is not an absolute path; valid: an absolute directory such as \(fallback) (unset: \(fallback))")
        }
        return v
    }
}

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
/// holder exits, also on SIGKILL, so a crash leaves nothing to clean up.
final class NamespaceLock {
    static let directory = "/run/gatepeer"
    /// How long a writer waits for another (seconds): $GATEPEER_LOCK_WAIT or 10.
    static var defaultWait: Double { (try? waitFromEnvironment()) ?? 10 }

    /// $GATEPEER_LOCK_WAIT as seconds (10 when unset); throws naming the variable and what
    /// is valid when it is not a number of seconds from 0 to 86400.
    static func waitFromEnvironment() throws -> Double {
        guard let t = ProcessInfo.processInfo.environment["GATEPEER_LOCK_WAIT"] else { return 10 }
        // Plain decimal only: Double() also reads "0x10" (16), "1e1" and "+3".
        let text = t.trimmingCharacters(in: .whitespaces)
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        // The whole seconds as every number (DecimalText: "010" and "+3" are not), the
        // fraction any digits ("2.05").
        let decimal = (1...2).contains(parts.count) && DecimalText.parse(parts[0], in: 0...86400) != nil
            && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0 >= "0" && $0 <= "9" } }
        guard decimal, let w = Double(text), w.isFinite, w >= 0, w <= 86400 else {
            throw StateError(message: "GATEPEER_LOCK_WAIT=\(Echo.quoted(t)) is not a number of seconds; valid: 0 to 86400, e.g. 10 or 2.5 (how long a writer waits for another)")
        }
        return w
    }

    private let fd: Int32
    /// Whether we wrote our name into the file, to clear it before letting go (so a reader
    /// holding it shared later is not named after us).
    private let named: Bool

    private init(fd: Int32, named: Bool) {
        self.fd = fd
        self.named = named
    }

    deinit {
        if named { ftruncate(fd, 0) }
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
        let fd = try openLockFile(path)
        let deadline = Date().addingTimeInterval(wait)
        var announced = false
        while flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let e = String(cString: strerror(errno))
                close(fd)
                throw StateError(message: "cannot lock \(path): \(e)")
            }
            if Date() >= deadline {
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
        if !shared {
            // For the message another process prints; a reader holding it shared writes nothing.
            let text = Array("pid \(getpid()) (\(command))\n".utf8)
            ftruncate(fd, 0)
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        return NamespaceLock(fd: fd, named: !shared)
    }

    /// The daemon lock, held by `gatepeer run` for its whole life. Throws LockBusy naming
    /// the running daemon when there is one.
    static func daemon(_ ns: NetworkNamespace) throws -> NamespaceLock {
        let path = directory + "/netns-\(ns.inode).daemon"
        let fd = try openLockFile(path)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = holderText(fd)
            close(fd)
            throw LockBusy(path: path, holder: holder, waited: 0)
        }
        let text = Array("\(getpid())\n".utf8)
        ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return NamespaceLock(fd: fd, named: false)
    }

    /// The pid of the `gatepeer run` that manages this namespace, or nil when none does.
    static func runningDaemon(_ ns: NetworkNamespace) -> String? {
        let path = directory + "/netns-\(ns.inode).daemon"
        // Non-blocking like every read (Files.read): a FIFO here must not hang a command.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        let pid = contents(fd).trimmingCharacters(in: .whitespacesAndNewlines)
        return pid.isEmpty ? "?" : pid
    }

    /// The message for `apply` and `down` while a daemon manages the namespace.
    static func daemonMessage(pid: String) -> String {
        "gatepeer run (pid \(pid)) manages this network namespace; edit the config and reload it (kill -HUP \(pid), or systemctl reload gatepeer)"
    }

    private static func openLockFile(_ path: String) throws -> Int32 {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw StateError(message: "cannot make \(directory): \(String(cString: strerror(errno)))")
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StateError(message: "cannot open \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    private static func holderText(_ fd: Int32) -> String {
        let t = contents(fd).trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? "another gatepeer process (a plan, or one that has not written its name yet)" : t
    }

    private static func contents(_ fd: Int32) -> String {
        var buf = [UInt8](repeating: 0, count: 512)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? String(decoding: buf[..<n], as: UTF8.self) : ""
    }
}

/// The writer lock for a command run from the shell, or nil after saying why not (exit 1).
/// `apply` and `down` also refuse while `gatepeer run` manages the namespace: the daemon
/// would put its own config back at its next resync, so the change would not hold.
/// `plan` takes the lock shared. Checked after the writer lock is held, so a daemon that
/// starts meanwhile waits for this command and then converges after it.
func lockNamespace(_ command: String, _ store: StateStore) -> NamespaceLock? {
    let line = (["gatepeer"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
    do {
        let lock = try NamespaceLock.writer(store.namespace, command: String(line.prefix(200)), shared: command == "plan")
        store.holdsWriterLock = command != "plan"
        if command == "apply" || command == "down", let pid = NamespaceLock.runningDaemon(store.namespace) {
            Console.error("gatepeer: " + NamespaceLock.daemonMessage(pid: pid))
            return nil
        }
        return lock
    } catch {
        Console.error("gatepeer: \(command): \(error)")
        return nil
    }
}
