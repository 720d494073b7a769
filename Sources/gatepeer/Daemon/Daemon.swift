import Foundation
import GatePeerCore
import GatePeerKernel
import Glibc

/// `gatepeer run`: converge at start, then keep converging. Every `resync` seconds the
/// kernel is read back and drift is repaired (a deleted route, a lost FDB entry, a
/// recreated underlay); SIGHUP re-reads the config; domain names are resolved when
/// their TTL runs out and their addresses loaded with a timeout. All state and every
/// kernel call live on one serial queue, so nothing races.
final class Daemon: @unchecked Sendable {
    private let configPath: String
    private let resync: Int
    private let queue = DispatchQueue(label: "gatepeer.state")
    private var config: GatePeerConfig
    private let kernel: Kernel
    private var learned: LearnedAddresses
    private var nextResolve: [String: Int64] = [:]
    private var sources: [DispatchSourceProtocol] = []
    private var forwarder: DNSForwarder?
    private var resolving = false
    private let resolveQueue = DispatchQueue(label: "gatepeer.resolve")
    private let store: StateStore
    /// Held for the daemon's whole life: one `gatepeer run` per network namespace.
    private let daemonLock: NamespaceLock
    /// The reconcile's standing problems (blockers, refused changes, unusable state).
    private var reconcileProblems = StandingProblems()
    /// Per name, the failure of its last lookup.
    private var resolveProblems: [String: StandingProblems] = [:]

    /// Throws when another `gatepeer run` manages this network namespace (naming its pid).
    init(configPath: String, config: GatePeerConfig, resync: Int) throws {
        self.configPath = configPath
        self.config = config
        self.resync = resync
        store = StateStore.open()
        do {
            daemonLock = try NamespaceLock.daemon(store.namespace)
        } catch let busy as LockBusy {
            throw StateError(message: "gatepeer run (pid \(busy.holder)) already manages this network namespace (\(busy.path)); stop it first, or reload it (kill -HUP \(busy.holder))")
        }
        kernel = try Kernel()
        kernel.filterReadCache = store.filterReadCache
        // Without the writer lock: the file is replaced by rename, so it is read whole, and
        // waiting here could only end in an empty copy that the next save writes over it.
        learned = store.loadLearned()
    }

    /// Runs `body` under the namespace's writer lock (waiting a bounded time for a grant
    /// or revoke to finish); nil, logged, when another writer keeps it longer.
    private func writing<T>(_ body: () throws -> T) rethrows -> T? {
        let lock: NamespaceLock
        do {
            lock = try NamespaceLock.writer(store.namespace, command: "gatepeer run", announce: { log($0) })
        } catch {
            log("\(error); trying again later")
            return nil
        }
        store.holdsWriterLock = true
        defer { store.holdsWriterLock = false }
        return try withExtendedLifetime(lock) { try body() }
    }

    func run() -> Never {
        for sig in [SIGHUP, SIGTERM, SIGINT] { signal(sig, SIG_IGN) }
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        hup.setEventHandler { [unowned self] in self.reload() }
        for sig in [SIGTERM, SIGINT] {
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            s.setEventHandler { log("stopping (signal \(sig)); the kernel keeps what was applied"); exit(0) }
            s.resume()
            sources.append(s)
        }
        hup.resume()
        sources.append(hup)

        let reconcileTimer = DispatchSource.makeTimerSource(queue: queue)
        reconcileTimer.schedule(deadline: .now(), repeating: .seconds(resync))
        reconcileTimer.setEventHandler { [unowned self] in self.reconcile() }
        reconcileTimer.resume()
        sources.append(reconcileTimer)

        let resolveTimer = DispatchSource.makeTimerSource(queue: queue)
        resolveTimer.schedule(deadline: .now(), repeating: .seconds(1))
        resolveTimer.setEventHandler { [unowned self] in self.resolveDue() }
        resolveTimer.resume()
        sources.append(resolveTimer)

        log("running with \(Echo.path(configPath)): \(config.links.count) link(s), resync every \(resync)s")
        queue.async { [unowned self] in self.startForwarder() }
        dispatchMain()
    }

    /// Read the kernel back and apply whatever differs (nothing, most of the time).
    private func reconcile() {
        writing { reconcileLocked() }
    }

    private func reconcileLocked() {
        // Logged through reconcileProblems: the same blocker at every resync is one line
        // when it appears (or changes) and one when it clears, not 2,880 a day at 30 s.
        var problems: [String] = []
        defer { reconcileProblems.update(problems) }
        do {
            if store.refusal == nil { try store.claim() }
            let c = try Converge.run(kernel, config: config, mapCache: store.mapCache, dynamic: extras) { plan in
                problems += plan.blockers.map { "blocked: \($0)" }
                for ch in plan.changes { log(ch.line) }
            }
            problems += c.problems
            if c.failures.contains(where: { $0.errno == EPERM }) {
                stderr(netAdminHint("run"))
                exit(Exit.runtime.rawValue)
            }
            if let m = store.stateProblem(keptDynamic: config.filter != nil) { problems.append(m) }
        } catch let k as KernelError where k.errno == EPERM {
            // The capability was taken away (or never there): every later try fails the
            // same way, so say why once and stop instead of logging it at every resync.
            log("reconcile failed: \(k)")
            stderr(netAdminHint("run"))
            exit(Exit.runtime.rawValue)
        } catch {
            problems.append("reconcile failed: \(error)")
        }
    }

    private func reload() {
        let data: [UInt8]
        switch Files.read(configPath, limit: Files.configLimit) {
        case .success(let d): data = d
        case .failure(let e):
            log("reload: cannot read \(Echo.path(e.path)): \(e.reason); keeping the running config")
            return
        }
        switch ConfigDecoder.decode(bytes: data) {
        case .success(let c):
            config = c
            nextResolve = [:]
            log("reloaded \(Echo.path(configPath))")
            reconcile()
        case .failure(let e):
            log("reload: \(Echo.path(configPath)) has \(e.count) problem(s); keeping the running config")
            for line in e.report(indent: "  ") { log(line) }
        }
    }

    /// DNS for devices on the inner addresses; answers for names that domain rules
    /// cover are learned before the device sees them.
    private func startForwarder() {
        guard forwarder == nil, let f = config.filter, f.runsDNSForwarder, !f.resolvers.isEmpty else { return }
        let fw = DNSForwarder(upstream: f.resolvers) { [unowned self] name, records in
            self.queue.sync { self.learnFromAnswer(name, records) }
        }
        let listen = config.links.map(\.innerIpAddress.address)
        // Devices only: the device subnets and the LANs behind them. Not an open resolver.
        let clients = config.links.flatMap { [$0.deviceSubnet] + $0.routes.map(\.destination) }
        do {
            try fw.start(listen: listen, clients: clients)
            forwarder = fw
            log("dns forwarder on \(listen.map(\.description).joined(separator: ", ")) port 53 -> \(f.resolvers.map(\.description).joined(separator: ", "))")
        } catch {
            log("dns forwarder not started: \(error)")
        }
    }

    /// Learns a device's answer for `name` when a domain rule covers it, and says what the
    /// device may be told: only addresses the kernel now holds (nothing when they could not
    /// be loaded), so what it resolves and what the filter allows stay one set.
    private func learnFromAnswer(_ name: String, _ records: [DNSRecord]) -> DNSTrim? {
        guard let f = config.filter, f.domainPatterns.contains(where: { $0.matches(name) }) else { return nil }
        let n = now()
        guard !records.isEmpty else { return learned.trim(name: name, now: n, slack: f.domainSlackSeconds) }
        let before = learned
        let kept = learned.merge(name: name, answer: records.map { ($0.address, $0.ttl) }, now: n, slack: f.domainSlackSeconds, cap: f.maxAddressesPerName)
        // A wildcard answers any label: bound what devices can make us remember.
        learned.prune(now: n)
        learned.limitNames(LearnedAddresses.maxNames)
        let over = records.filter { !kept.contains($0.address) }.count
        log("learned \(name) from a device's lookup: \(records.filter { kept.contains($0.address) }.map { "\($0.address) ttl \($0.ttl)" }.joined(separator: ", "))"
            + (over == 0 ? "" : "; \(over) more address(es) not kept (maxAddressesPerName \(f.maxAddressesPerName)), not told to the device"))
        guard saveAndLoadLearned(replacing: before) else { return DNSTrim(keep: [:], instead: []) }
        return learned.trim(name: name, now: n, slack: f.domainSlackSeconds)
    }

    private func extras(_ observed: ObservedState) -> [NftElement] {
        store.dynamicElements(config, observed: observed, learned: learned)
    }

    /// Resolve the exact names whose time has come. Lookups run on their own queue (a
    /// dead resolver costs seconds); only the merge runs on the state queue, so DNS
    /// answers for devices, drift repair and signals never wait on the network.
    private func resolveDue() {
        guard !resolving, let f = config.filter, !f.resolvers.isEmpty else { return }
        let n = now()
        let due = f.exactDomainNames.filter { (nextResolve[$0] ?? 0) <= n }
        guard !due.isEmpty else { return }
        resolving = true
        let resolver = DNSResolver(servers: f.resolvers)
        resolveQueue.async { [self] in
            var results: [Lookup] = []
            for name in due {
                var lookup = Lookup(name: name, answer: [], minTTL: 3600, failure: nil)
                for type in [DNSRecordType.a, .aaaa] {
                    do {
                        let r = try resolver.resolve(name, type: type)
                        if r.rcode != 0 && r.rcode != 3 { lookup.failure = "rcode \(r.rcode)"; continue }
                        lookup.answer += r.records.map { ($0.address, $0.ttl) }
                        if let t = r.records.map(\.ttl).min() { lookup.minTTL = min(lookup.minTTL, t) }
                        if r.records.isEmpty, let neg = r.negativeTTL { lookup.minTTL = min(lookup.minTTL, neg) }
                    } catch {
                        lookup.failure = "\(error)"
                    }
                }
                results.append(lookup)
            }
            let done = results
            queue.async { [self] in
                resolving = false
                merge(done)
            }
        }
    }

    struct Lookup: @unchecked Sendable {
        var name: String
        var answer: [(IPAddress, UInt32)]
        var minTTL: UInt32
        var failure: String?
    }

    private func merge(_ results: [Lookup]) {
        guard let f = config.filter else { return }
        let n = now()
        let before = learned
        var changed = false
        for r in results {
            if let failure = r.failure, r.answer.isEmpty {
                // Retried every 15 s: logged when it starts failing or fails differently.
                resolveProblems[r.name, default: StandingProblems()].update(["warning: resolving \(r.name) failed (\(failure)); keeping the addresses learned until they expire"])
                nextResolve[r.name] = n + 15
                continue
            }
            resolveProblems[r.name]?.update([])
            resolveProblems[r.name] = nil
            learned.merge(name: r.name, answer: r.answer, now: n, slack: f.domainSlackSeconds, cap: f.maxAddressesPerName)
            let shown = r.answer.map { "\($0.0) ttl \($0.1)" }.joined(separator: ", ")
            log("resolved \(r.name): \(shown.isEmpty ? "no addresses" : shown)")
            // Ask again when the shortest TTL runs out (within 5 s .. 1 h).
            nextResolve[r.name] = n + Int64(max(5, min(3600, r.minTTL)))
            changed = true
        }
        guard changed else { return }
        learned.prune(now: n)
        saveAndLoadLearned(replacing: before)
    }

    /// learned.json and the kernel's learned elements change together under the writer
    /// lock, so a full load in between cannot miss them. Elements of `previous` that are
    /// gone (an address that made room for another) are deleted at once, so the kernel
    /// and `filter check` never differ. False when the elements could not be loaded at all
    /// (netlink failed, or another writer kept the lock).
    @discardableResult
    private func saveAndLoadLearned(replacing previous: LearnedAddresses) -> Bool {
        writing { () -> Bool in
            do {
                try store.saveLearned(learned)
            } catch {
                log("cannot save \(store.learnedPath): \(error)")
            }
            do {
                let ms = nowMs()
                let elements = learned.elements(config, nowMs: ms)
                let now = Set(elements.map { $0.set + "|" + $0.keyText })
                let gone = previous.elements(config, nowMs: ms).filter { !now.contains($0.set + "|" + $0.keyText) }
                try kernel.deleteElements(gone)
                // One refused element (logged) does not make the others untrue.
                for f in try kernel.loadElements(elements) { log("learned address not loaded: \(f)") }
                return true
            } catch {
                log("loading learned addresses failed: \(error)")
                return false
            }
        } ?? false
    }
}

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
    FileHandle.standardError.write(("gatepeer: " + Echo.line(s) + "\n").data(using: .utf8)!)
}
