import Dispatch
import GatePeerCore
import GatePeerKernel
import Glibc

/// VPG gate peer liveness (docs/config.md, "VPG gate peer liveness"): per link one raw
/// ICMP socket bound to the vxlan device (EchoSocket), read by a DispatchSourceRead, and
/// one timer that fires at the link's next deadline (a probe due, or one to judge lost),
/// all on the daemon's queue; no thread per probe. Each peer's LivenessMachine judges it
/// up or down; a peer going down has the FDB and neighbour entries learned through it
/// flushed (Kernel.flushLearned) so traffic re-resolves through a live peer at once.
/// Keeps `context.peers` (one PeerLiveness per configured peer) and the flush counter.
final class LivenessService: DaemonService, @unchecked Sendable {
    private let context: DaemonContext
    private var probers: [LinkProber] = []
    /// Unix seconds of the last runtimeChanged() for probe counts alone (state changes
    /// publish at once): at 100 ms probes the report would otherwise be rewritten 10x a second.
    private var lastPublished = 0.0

    init(_ context: DaemonContext) {
        self.context = context
    }

    func start() { build() }

    /// Links whose name, peers and settings are unchanged keep their probers (and peer
    /// states); the others start over from unknown.
    func reload() { build() }

    func stop() {
        for p in probers { p.cancel() }
        probers.removeAll()
    }

    private func build() {
        var keep: [String: LinkProber] = [:]
        for p in probers { keep[p.link.name] = p }
        var next: [LinkProber] = []
        var restarted: Set<String> = []
        for link in context.config.links {
            if let p = keep.removeValue(forKey: link.name), p.probes(like: link) {
                next.append(p)
            } else {
                next.append(LinkProber(link: link, service: self))
                restarted.insert(link.name)
            }
        }
        for p in keep.values { p.cancel() }
        probers = next
        // One entry per configured peer; counters carry over for peers still configured,
        // the state only where the link's prober (and so its judgement) carries over.
        var old: [String: PeerLiveness] = [:]
        for e in context.peers { old[e.link + " " + e.outerIpAddress.description] = e }
        context.peers = context.config.links.flatMap { link in
            link.peers.map { peer -> PeerLiveness in
                var e = old[link.name + " " + peer.outerIpAddress.description]
                    ?? PeerLiveness(link: link.name, outerIpAddress: peer.outerIpAddress, probeTarget: peer.probeTarget)
                e.probeTarget = link.liveness.enabled ? peer.probeTarget : nil
                if e.probeTarget == nil || restarted.contains(link.name) { e.state = .unknown; e.since = nil; e.rttSeconds = nil }
                return e
            }
        }
        for p in probers { p.start() }
        context.runtimeChanged()
    }

    /// The context.peers entry of `peer` on `link`.
    fileprivate func update(_ link: String, _ peer: IPAddress, _ body: (inout PeerLiveness) -> Void) {
        guard let i = context.peers.firstIndex(where: { $0.link == link && $0.outerIpAddress == peer }) else { return }
        body(&context.peers[i])
    }

    /// A probe result (no state change): published at most once a second.
    fileprivate func counted() {
        let now = Clock.now()
        if now - lastPublished >= 1 {
            lastPublished = now
            context.runtimeChanged()
        }
    }

    /// A peer's state changed to `state`.
    fileprivate func changed(link: String, peer: GatePeer, to state: PeerLiveness.State, machine: LivenessMachine) {
        var was = PeerLiveness.State.unknown
        update(link, peer.outerIpAddress) { e in
            was = e.state
            e.state = state
            e.since = Clock.now()
            if was != .unknown { e.transitions += 1 }
        }
        let rtt = machine.lastRTT.map(LivenessService.milliseconds) ?? "none"
        let target = peer.probeTarget?.description ?? ""
        if state == .up {
            log(.info, "peer up", ["link": link, "peer": peer.outerIpAddress.description, "target": target, "rtt": rtt])
        } else {
            log(.warning, "peer down", ["link": link, "peer": peer.outerIpAddress.description, "target": target,
                                        "lost": "\(machine.lostInRow)", "rtt": rtt])
            flush(link: link, peer: peer.outerIpAddress)
        }
        lastPublished = Clock.now()
        context.runtimeChanged()
    }

    private func flush(link: String, peer: IPAddress) {
        do {
            guard let f = try context.kernel.flushLearned(link: link, toward: peer) else { return }
            context.counters.peerFlushes += UInt64(f.total)
            log(.info, "flushed entries learned through the dead peer",
                ["link": link, "peer": peer.description, "object": "fdb", "fdb": "\(f.fdb)", "neighbours": "\(f.neighbours)"])
        } catch {
            log(.error, "flush failed: \(error)", ["link": link, "peer": peer.description])
        }
    }

    /// `ns` nanoseconds as milliseconds with three decimals ("0.812ms"), for log fields.
    static func milliseconds(_ ns: UInt64) -> String {
        let us = ns / 1000
        let frac = String(us % 1000)
        return "\(us / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)ms"
    }

    /// Nanoseconds of CLOCK_MONOTONIC.
    fileprivate static func monotonic() -> UInt64 { UInt64(Clock.monotonic() * 1e9) }

    /// One link's socket, timer and peer machines.
    fileprivate final class LinkProber {
        let link: VPGLink
        private unowned let service: LivenessService
        private var queue: DispatchQueue { service.context.queue }
        /// (peer, machine) for every peer with a probe target; empty when liveness is off.
        private var peers: [(peer: GatePeer, machine: LivenessMachine)] = []
        private var socket: EchoSocket?
        private var reader: DispatchSourceRead?
        private var timer: DispatchSourceTimer?
        private var sequence = UInt16.random(in: 0...UInt16.max)
        /// Outstanding probes: sequence -> index in `peers`.
        private var pending: [UInt16: Int] = [:]
        /// Why the socket cannot be opened, logged when it appears, changes or clears.
        private var problems = StandingProblems()

        init(link: VPGLink, service: LivenessService) {
            self.link = link
            self.service = service
        }

        /// True when `other` probes the same peers the same way (a reload that changed
        /// only routes or the MTU keeps the judgement).
        func probes(like other: VPGLink) -> Bool {
            link.name == other.name && link.peers == other.peers && link.liveness == other.liveness
        }

        func start() {
            guard timer == nil, link.liveness.enabled else { return }
            let now = LivenessService.monotonic()
            peers = link.peers.filter { $0.probeTarget != nil }.map { ($0, LivenessMachine(settings: link.liveness, now: now)) }
            guard !peers.isEmpty else { return }
            let t = DispatchSource.makeTimerSource(queue: queue)
            t.setEventHandler { [unowned self] in self.tick() }
            timer = t
            t.schedule(deadline: .now())
            t.resume()
        }

        func cancel() {
            timer?.cancel(); timer = nil
            closeSocket()
        }

        private func closeSocket() {
            reader?.cancel(); reader = nil
            socket = nil
            pending.removeAll()
        }

        /// Opens the socket when there is none (the device may not exist yet, or was recreated).
        private func openSocket() {
            guard socket == nil, let family = peers.first?.peer.probeTarget?.family else { return }
            do {
                let s = try EchoSocket(device: link.name, family: family)
                let r = DispatchSource.makeReadSource(fileDescriptor: s.fd, queue: queue)
                r.setEventHandler { [unowned self] in self.receive() }
                // The socket outlives the source's last handler: cancelled before it closes.
                r.setCancelHandler { withExtendedLifetime(s) {} }
                r.resume()
                socket = s
                reader = r
                problems.update([])
            } catch let e as SystemError where e.errno == .notPermitted {
                // Not the errno's text: "Operation not permitted" is the line that tells of a
                // missing CAP_NET_ADMIN, said once (CapabilityTests).
                problems.update(["liveness probes on \(link.name) need CAP_NET_RAW (\(e.call) refused with EPERM); peers stay unknown"],
                                log: { log(.error, $0, ["link": self.link.name]) })
            } catch {
                problems.update(["liveness probes on \(link.name) cannot start: \(error)"], log: { log(.warning, $0, ["link": self.link.name]) })
            }
        }

        private func tick() {
            openSocket()
            guard socket != nil else {
                // Tried again in a second, not at the probes' pace: nothing can be sent.
                timer?.schedule(deadline: .now() + .seconds(1), leeway: .milliseconds(10))
                return
            }
            let now = LivenessService.monotonic()
            for i in peers.indices {
                let lostBefore = peers[i].machine.probesLost
                let verdict = peers[i].machine.expire(at: now)
                let lost = peers[i].machine.probesLost - lostBefore
                if lost > 0 { service.update(link.name, peers[i].peer.outerIpAddress) { $0.probesLost += lost } }
                if let verdict { service.changed(link: link.name, peer: peers[i].peer, to: verdict, machine: peers[i].machine) }
                guard peers[i].machine.nextSend <= now, let target = peers[i].peer.probeTarget, let socket else { continue }
                sequence &+= 1
                pending[sequence] = i
                do {
                    try socket.send(to: target, sequence: sequence)
                } catch let e as SystemError where e.errno == .noSuchDevice || e.errno.rawValue == ENXIO {
                    closeSocket()   // the device went away or was recreated: a new socket next time
                } catch {
                    // Unreachable for now (no neighbour yet): the probe will be judged lost.
                }
                peers[i].machine.sent(sequence: sequence, at: now)
                service.update(link.name, peers[i].peer.outerIpAddress) { $0.probesSent += 1 }
            }
            prunePending()
            service.counted()
            schedule()
        }

        /// Forgets the sequence numbers of probes judged lost (never answered), keeping the
        /// last 1,024: far more than any machine still waits for.
        private func prunePending() {
            guard pending.count > 2048 else { return }
            pending = pending.filter { sequence &- $0.key < 1024 }
        }

        private func receive() {
            guard let socket else { return }
            let now = LivenessService.monotonic()
            for r in socket.receiveReplies() {
                guard let i = pending.removeValue(forKey: r.sequence), peers[i].peer.probeTarget == r.from else { continue }
                let verdict = peers[i].machine.answered(sequence: r.sequence, at: now)
                let rtt = peers[i].machine.lastRTT.map { Double($0) / 1e9 }
                service.update(link.name, peers[i].peer.outerIpAddress) { $0.rttSeconds = rtt }
                if let verdict { service.changed(link: link.name, peer: peers[i].peer, to: verdict, machine: peers[i].machine) }
            }
            service.counted()
        }

        private func schedule() {
            let now = LivenessService.monotonic()
            let next = peers.map(\.machine.nextDeadline).min() ?? now + 1_000_000_000
            // At least 1 ms ahead: a deadline just passed must not spin the queue.
            timer?.schedule(deadline: .now() + .nanoseconds(Int(max(next > now ? next - now : 0, 1_000_000))), leeway: .milliseconds(1))
        }
    }
}
