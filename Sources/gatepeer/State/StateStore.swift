import GatePeerCore
import GatePeerKernel
import Glibc

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
    var grantsUnknown = false
    /// Damage reports already written: the daemon reads the state at every resync, and a
    /// file that stays damaged is said once (its `stateProblem` is logged when it clears).
    private var reported = Set<String>()
    /// The identity must be written (missing, or inherited from an earlier incarnation of
    /// this namespace, e.g. before a reboot); `claim()` does it.
    private var identityStale: Bool

    /// $GATEPEER_STATE_DIR or /var/lib/gatepeer, checked before the command ran.
    static var base: String { Settings.current.stateDirectory }

    init(namespace: NetworkNamespace, table: String = NftNames.table) {
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
            ?? StateStore.kernelDynamicElements(observed).filter { NftNames.isGrantSet($0.set) }
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

    /// Throws SystemError naming the state directory and the component mkdir refused.
    private func makeDirectory() throws(SystemError) {
        do {
            try Files.makeDirectories(directory, mode: 0o700)
        } catch {
            throw SystemError(error.call, "state directory \(directory) (at \(error.object))", error.errno)
        }
    }

    /// The file's text; nil when the directory is refused or the file absent. Bytes that
    /// are not UTF-8 count as damage and reach the decoder as replacement characters. A
    /// file that is there but cannot be read (not a regular file, over Files.stateLimit,
    /// an I/O error) is a failure naming why: damage, not an empty state.
    func read(_ path: String) -> Result<String?, Files.ReadError> {
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
        guard let names = try? Files.entries(directory) else { return }
        for n in names where n.hasPrefix(".") {
            guard let r = n.ranges(of: ".tmp.").last, let pid = Int32(n[r.upperBound...]), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(directory + "/" + n) }
        }
    }

    /// `message` on stderr unless this store said it before.
    func report(_ message: String) {
        if reported.insert(message).inserted { Console.error(message) }
    }

    /// Keeps the evidence of a damaged file: the next write must not replace it unseen.
    /// Only a holder of the writer lock moves it; a reader reports it and reads nothing.
    func moveAside(_ path: String, because reason: String, lost: String) {
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
    func write(_ path: String, _ text: String) throws {
        if let why = Files.tooLarge(path, bytes: text.utf8.count, limit: Files.stateLimit) { throw StateError(message: why) }
        try claim()
        if damaged.contains(path), holdsWriterLock {
            moveAside(path, because: "found damaged earlier", lost: "replaced by this write")
        }
        if let e = Files.replace(path, with: Array(text.utf8), mode: 0o600, limit: Files.stateLimit) { throw StateError(message: e) }
    }
}

extension StateStore {
    /// `ha-state.json`: what `gatepeer ha notify` last recorded (HAState.Record).
    var haStatePath: String { directory + "/ha-state.json" }

    /// `ha-notify.log`: every line `gatepeer ha notify` logs, appended, because keepalived
    /// runs notify scripts with stdout and stderr on /dev/null. Over 1 MiB it is renamed
    /// to `ha-notify.log.1` (the one before goes) and started again.
    var haNotifyLogPath: String { directory + "/ha-notify.log" }

    /// Opens ha-notify.log for appending (0600, close-on-exec); throws StateError naming
    /// the file when it cannot.
    func openHANotifyLog() throws -> Int32 {
        try claim()
        var st = stat()
        if stat(haNotifyLogPath, &st) == 0, st.st_size > 1 << 20 { _ = rename(haNotifyLogPath, haNotifyLogPath + ".1") }
        let fd = Glibc.open(haNotifyLogPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StateError(message: "cannot open \(haNotifyLogPath): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Records keepalived's notification (0600, synced, renamed over the old record, like
    /// every state file). No writer lock: keepalived runs one notify at a time per group,
    /// the rename is atomic, and the daemon never writes this file. Throws StateError
    /// (refused directory, mkdir or write failure).
    func saveHAState(_ record: HAState.Record) throws {
        try write(haStatePath, record.json.render(pretty: false) + "\n")
    }

    /// The last recorded notification: nil when none was recorded yet (or the directory is
    /// refused), a failure naming the file and what is wrong when it cannot be read or is
    /// damaged.
    func loadHAState() -> Result<HAState.Record?, StateError> {
        switch read(haStatePath) {
        case .success(nil): return .success(nil)
        case .success(let text?):
            do { return .success(try HAState.Record.parse(text)) } catch {
                return .failure(StateError(message: "\(haStatePath) is damaged (\(error.message))"))
            }
        case .failure(let e): return .failure(StateError(message: "\(e.path) cannot be read (\(e.reason))"))
        }
    }
}
