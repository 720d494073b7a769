import Dispatch
import GatePeerCore
import GatePeerKernel

/// The DNS forwarder for devices on the inner addresses (DNSForwarder); answers for names
/// that domain rules cover are learned before the device sees them. It follows a reload:
/// new resolvers, inner addresses, device prefixes, or `dnsForwarder` turned off or on
/// take effect without a restart.
final class ForwarderService: DaemonService, @unchecked Sendable {
    private let context: DaemonContext
    private var forwarder: DNSForwarder?
    /// What the running forwarder serves; nil while it is off.
    private var serving: Settings?

    init(_ context: DaemonContext) { self.context = context }

    /// What the forwarder serves: queries to `upstream` (in order), from `clients`, on
    /// port 53 of `listen`.
    struct Settings: Equatable {
        var upstream: [IPAddress]
        var listen: [IPAddress]
        var clients: [IPPrefix]

        /// The settings `config` asks for; nil when it runs no forwarder (no filter,
        /// `dnsForwarder` off or unset without domain rules, or no resolvers).
        init?(_ config: GatePeerConfig) {
            guard let f = config.filter, f.runsDNSForwarder, !f.resolvers.isEmpty else { return nil }
            upstream = f.resolvers
            listen = config.links.map(\.innerIpAddress.address)
            // Devices only: the device subnets and the LANs behind them. Not an open resolver.
            clients = config.links.flatMap { [$0.deviceSubnet] + $0.routes.map(\.destination) }
        }
    }

    func start() { follow() }
    func reload() { follow() }

    func stop() {
        forwarder?.stop()
        serving = nil
    }

    /// Makes the forwarder serve what the running config asks for: started, moved to new
    /// settings, or stopped. A socket that cannot be bound is logged and the forwarder
    /// keeps what it served (a reload must not take DNS from the devices).
    private func follow() {
        let wanted = Settings(context.config)
        guard wanted != serving else { return }
        guard let wanted else {
            stop()
            log(.info, "dns forwarder off (dnsForwarder, domain rules or resolvers of the reloaded config)", ["object": "dns-forwarder"])
            return
        }
        let fw = forwarder ?? DNSForwarder { [unowned self] name, records in
            self.context.queue.sync { self.learnFromAnswer(name, records) }
        }
        do {
            try fw.configure(upstream: wanted.upstream, listen: wanted.listen, clients: wanted.clients)
            forwarder = fw
            serving = wanted
            log(.info, "dns forwarder on \(wanted.listen.map(\.description).joined(separator: ", ")) port 53 -> \(wanted.upstream.map(\.description).joined(separator: ", "))", ["object": "dns-forwarder"])
        } catch {
            // Not started: devices get no DNS from us (an error); kept: they still do.
            if serving == nil {
                log(.error, "dns forwarder not started: \(error)", ["object": "dns-forwarder"])
            } else {
                log(.warning, "dns forwarder keeps its settings: \(error)", ["object": "dns-forwarder"])
            }
        }
    }

    /// Learns a device's answer for `name` when a domain rule covers it, and says what the
    /// device may be told: only addresses the kernel now holds (nothing when they could not
    /// be loaded), so what it resolves and what the filter allows stay one set.
    private func learnFromAnswer(_ name: String, _ records: [DNSRecord]) -> DNSTrim? {
        guard let f = context.config.filter, f.domainPatterns.contains(where: { $0.matches(name) }) else { return nil }
        let n = WallClock.seconds()
        guard !records.isEmpty else { return context.learned.trim(name: name, now: n, slack: f.domainSlackSeconds) }
        let before = context.learned
        let kept = context.learned.merge(name: name, answer: records.map { ($0.address, $0.ttl) }, now: n, slack: f.domainSlackSeconds, cap: f.maxAddressesPerName)
        // A wildcard answers any label: bound what devices can make us remember.
        context.learned.prune(now: n)
        context.learned.limitNames(LearnedAddresses.maxNames)
        let over = records.filter { !kept.contains($0.address) }.count
        log(over == 0 ? .info : .warning,
            "learned \(name) from a device's lookup: \(records.filter { kept.contains($0.address) }.map { "\($0.address) ttl \($0.ttl)" }.joined(separator: ", "))"
            + (over == 0 ? "" : "; \(over) more address(es) not kept (maxAddressesPerName \(f.maxAddressesPerName)), not told to the device"),
            ["object": "dns", "name": name])
        guard context.saveAndLoadLearned(replacing: before) else { return DNSTrim(keep: [:], instead: []) }
        return context.learned.trim(name: name, now: n, slack: f.domainSlackSeconds)
    }
}
