import Dispatch
import GatePeerCore
import GatePeerKernel

/// Name resolution for exact domain rules: each name is looked up (A and AAAA, at the
/// config's resolvers) when its TTL runs out, and its addresses are learned and loaded.
/// Lookups run on a queue of their own (a dead resolver costs seconds); only the merge
/// runs on the state queue, so DNS answers for devices, drift repair and signals never
/// wait on the network.
final class ResolveService: DaemonService, @unchecked Sendable {
    private let context: DaemonContext
    private let lookups = DispatchQueue(label: "gatepeer.resolve")
    private var timer: DispatchSourceTimer?
    /// Per name, when (Unix seconds) it is looked up next; absent: now.
    private var nextResolve: [String: Int64] = [:]
    /// A round of lookups is under way (one at a time).
    private var resolving = false
    /// Per name, the failure of its last lookup.
    private var problems: [String: StandingProblems] = [:]

    init(_ context: DaemonContext) { self.context = context }

    func start() {
        let t = DispatchSource.makeTimerSource(queue: context.queue)
        t.schedule(deadline: .now(), repeating: .seconds(1))
        t.setEventHandler { [unowned self] in self.resolveDue() }
        t.resume()
        timer = t
    }

    /// Every name is due again: the rules or the resolvers may have changed.
    func reload() { nextResolve = [:] }

    func stop() {
        timer?.cancel()
        timer = nil
    }

    private struct Lookup: @unchecked Sendable {
        var name: String
        var answer: [(IPAddress, UInt32)]
        var minTTL: UInt32
        var failure: String?
    }

    /// Resolve the exact names whose time has come.
    private func resolveDue() {
        guard !resolving, let f = context.config.filter, !f.resolvers.isEmpty else { return }
        let n = WallClock.seconds()
        let due = f.exactDomainNames.filter { (nextResolve[$0] ?? 0) <= n }
        guard !due.isEmpty else { return }
        resolving = true
        let resolver = DNSResolver(servers: f.resolvers)
        lookups.async { [self] in
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
            context.queue.async { [self] in
                resolving = false
                merge(done)
            }
        }
    }

    private func merge(_ results: [Lookup]) {
        guard let f = context.config.filter else { return }
        let n = WallClock.seconds()
        let before = context.learned
        var changed = false
        for r in results {
            if let failure = r.failure, r.answer.isEmpty {
                // Retried every 15 s: logged when it starts failing or fails differently.
                problems[r.name, default: StandingProblems()].update(["resolving \(r.name) failed (\(failure)); keeping the addresses learned until they expire"], ["object": "dns", "name": r.name])
                nextResolve[r.name] = n + 15
                continue
            }
            problems[r.name]?.update([], ["object": "dns", "name": r.name])
            problems[r.name] = nil
            context.learned.merge(name: r.name, answer: r.answer, now: n, slack: f.domainSlackSeconds, cap: f.maxAddressesPerName)
            let shown = r.answer.map { "\($0.0) ttl \($0.1)" }.joined(separator: ", ")
            log(.info, "resolved \(r.name): \(shown.isEmpty ? "no addresses" : shown)", ["object": "dns", "name": r.name])
            // Ask again when the shortest TTL runs out (within 5 s .. 1 h).
            nextResolve[r.name] = n + Int64(max(5, min(3600, r.minTTL)))
            changed = true
        }
        guard changed else { return }
        context.learned.prune(now: n)
        context.saveAndLoadLearned(replacing: before)
    }
}
