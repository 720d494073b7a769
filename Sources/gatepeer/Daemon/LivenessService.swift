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
///
/// With `ha`, a link this node is the standby for (HAStandby: its outer address is not on
/// the underlay, keepalived holds it on the master) is not probed: the VPG answers the
/// address it registered, which the master holds, so every probe would be lost and every
/// peer judged down on a healthy standby. Its peers are `standby` (no probes, no "peer
/// down", no flush); one info line when the link enters or leaves standby. What this
/// node holds is read by every reconcile pass (`observed`), which an RTM_NEWADDR or
/// RTM_DELADDR on the underlay wakes within milliseconds (EventService): the new master
/// probes at once, with fresh machines (unknown, then up after `rise` answers). Until
/// the first pass says, a link of a config with `ha` is not probed either.
final class LivenessService: DaemonService, @unchecked Sendable {
    private let context: DaemonContext
    /// One prober per configured link, by link name.
    private var probers: [String: LinkProber] = [:]
    /// The links this node is the HA standby for, as the last reconcile pass observed;
    /// nil before the first pass (then a config with `ha` probes nothing yet).
    private var standby: Set<String>?
    /// CLOCK_MONOTONIC seconds of the last runtimeChanged() for probe counts alone (state
    /// changes publish at once): at 100 ms probes the report would otherwise be rewritten
    /// 10x a second. Monotonic: a wall clock stepped back would stop the publishing.
    private var lastPublished = -Double.infinity

    init(_ context: DaemonContext) {
        self.context = context
    }

    func start() { build() }

    /// Each peer's machine (its judgement and counts) carries over a reload that keeps
    /// the peer's link, outer address, probe target and the link's liveness settings;
    /// only the peers that changed start over from unknown.
    func reload() { build() }

    func stop() {
        for p in probers.values { p.cancel() }
        probers.removeAll()
        context.livenessProblems.removeAll()
    }

    private func build() {
        var next: [String: LinkProber] = [:]
        var carried: Set<PeerKey> = []
        for link in context.config.links {
            let p = probers.removeValue(forKey: link.name) ?? LinkProber(name: link.name, service: self)
            carried.formUnion(p.configure(link))
            next[link.name] = p
        }
        for p in probers.values { p.cancel() }
        probers = next
        context.livenessProblems = context.livenessProblems.filter { next[$0.key] != nil }
        // One entry per configured peer; counters carry over for peers still configured,
        // the state only where the peer's machine (and so its judgement) carries over.
        var old: [String: PeerLiveness] = [:]
        for e in context.peers { old[e.link + " " + e.outerIpAddress.description] = e }
        context.peers = context.config.links.flatMap { link in
            link.peers.map { peer -> PeerLiveness in
                var e = old[link.name + " " + peer.outerIpAddress.description]
                    ?? PeerLiveness(link: link.name, outerIpAddress: peer.outerIpAddress, probeTarget: peer.probeTarget)
                e.probeTarget = link.liveness.enabled ? peer.probeTarget : nil
                if !(PeerKey(link: link, peer: peer).map(carried.contains) ?? false) { e.state = .unknown; e.since = nil; e.rttSeconds = nil }
                return e
            }
        }
        for p in probers.values { p.setMode(mode(p.name)) }
        for p in probers.values { p.start() }
        context.runtimeChanged()
    }

    /// What the reconcile pass just read of the kernel (before applying): which links
    /// this node is the HA standby for now. Probing pauses or resumes where that changed.
    func observed(_ o: ObservedState) {
        let now = HAStandby.links(context.config, o)
        guard now != standby else { return }
        standby = now
        for p in probers.values where p.mode != mode(p.name) {
            p.setMode(mode(p.name))
            p.start()
        }
    }

    /// How `link` is probed now: not at all while this node is its HA standby, nor with
    /// `ha` before the first pass said whether it is.
    private func mode(_ link: String) -> LinkProber.Mode {
        guard context.config.ha != nil else { return .probing }
        guard let standby else { return .waiting }
        return standby.contains(link) ? .standby : .probing
    }

    /// The link's peers become `standby` (since now, no RTT); those already are keep theirs.
    fileprivate func markStandby(_ link: String) {
        let now = Clock.now()
        var changed = false
        for i in context.peers.indices where context.peers[i].link == link && context.peers[i].state != .standby {
            context.peers[i].state = .standby
            context.peers[i].since = now
            context.peers[i].rttSeconds = nil
            changed = true
        }
        // A reload keeps a standby link standby: nothing new to publish then.
        guard changed else { return }
        lastPublished = Clock.monotonic()
        context.runtimeChanged(urgent: true)
    }

    /// The link's peers start over from unknown (fresh machines judge them).
    fileprivate func markUnknown(_ link: String) {
        for i in context.peers.indices where context.peers[i].link == link {
            context.peers[i].state = .unknown
            context.peers[i].since = nil
            context.peers[i].rttSeconds = nil
        }
        lastPublished = Clock.monotonic()
        context.runtimeChanged(urgent: true)
    }

    /// What a peer's machine is judged by: a reload that changes none of it keeps the machine.
    fileprivate struct PeerKey: Hashable {
        var link: String
        var peer: IPAddress
        var target: IPAddress
        var intervalMs, timeoutMs, rise, fall: Int

        /// nil when the peer is not probed (no target, or liveness off on the link).
        init?(link: VPGLink, peer: GatePeer) {
            guard link.liveness.enabled, let t = peer.probeTarget else { return nil }
            self.link = link.name
            self.peer = peer.outerIpAddress
            target = t
            let s = link.liveness
            intervalMs = s.intervalMs; timeoutMs = s.timeoutMs; rise = s.rise; fall = s.fall
        }
    }

    /// The context.peers entry of `peer` on `link`.
    fileprivate func update(_ link: String, _ peer: IPAddress, _ body: (inout PeerLiveness) -> Void) {
        guard let i = context.peers.firstIndex(where: { $0.link == link && $0.outerIpAddress == peer }) else { return }
        body(&context.peers[i])
    }

    /// Why `link`'s probes cannot go out (nil: they do); published at once when it changes.
    fileprivate func problem(_ link: String, _ text: String?) {
        guard context.livenessProblems[link] != text else { return }
        context.livenessProblems[link] = text
        lastPublished = Clock.monotonic()
        context.runtimeChanged(urgent: true)
    }

    /// A probe result (no state change): published at most once a second.
    fileprivate func counted() {
        let now = Clock.monotonic()
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
            // A down peer has no round-trip time: the last one measured is no longer true.
            e.rttSeconds = state == .up ? machine.lastRTT.map { Double($0) / 1e9 } : nil
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
        lastPublished = Clock.monotonic()
        context.runtimeChanged(urgent: true)
    }

    /// Deletes what was learned through the dead peer: one line per kind of entry that had
    /// any (object=fdb, object=neighbour), none when nothing was deleted. The counter
    /// counts entries, not flushes.
    private func flush(link: String, peer: IPAddress) {
        do {
            guard let f = try context.kernel.flushLearned(link: link, toward: peer) else { return }
            context.counters.peerFlushes += UInt64(f.total)
            for (object, count) in [("fdb", f.fdb), ("neighbour", f.neighbours)] where count > 0 {
                log(.info, "flushed entries learned through the dead peer",
                    ["link": link, "peer": peer.description, "object": object, "change": "flush", "count": "\(count)"])
            }
        } catch {
            log(.error, "flush failed: \(error)", ["link": link, "peer": peer.description, "object": "fdb", "change": "flush"])
        }
    }

    /// `ns` nanoseconds as milliseconds with three decimals ("0.812ms"), for log fields.
    static func milliseconds(_ ns: UInt64) -> String {
        let us = ns / 1000
        let frac = String(us % 1000)
        return "\(us / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)ms"
    }

    /// Nanoseconds of CLOCK_MONOTONIC, the probes' clock.
    fileprivate static func monotonic() -> UInt64 { EchoSocket.now() }

    /// One link's socket, timer and peer machines.
    fileprivate final class LinkProber {
        /// probing: the timer runs; standby: this node is the link's HA standby, nothing
        /// is sent and the peers are `standby`; waiting: `ha` is set and the first
        /// reconcile pass has not said yet whether this node holds the outer address.
        enum Mode { case probing, standby, waiting }

        let name: String
        private(set) var mode = Mode.probing
        private unowned let service: LivenessService
        private var queue: DispatchQueue { service.context.queue }
        /// (peer, key, machine) for every probed peer; empty when liveness is off.
        private var peers: [(peer: GatePeer, key: PeerKey, machine: LivenessMachine)] = []
        private var socket: EchoSocket?
        private var reader: DispatchSourceRead?
        private var timer: DispatchSourceTimer?
        private var sequence = UInt16.random(in: 0...UInt16.max)
        /// Outstanding probes: sequence -> the peer's key.
        private var pending: [UInt16: PeerKey] = [:]
        /// Why the socket cannot be opened, logged when it appears, changes or clears.
        private var problems = StandingProblems()
        /// The socket cannot be opened for want of CAP_NET_RAW: nothing is known of the
        /// peers (they stay as they are) until it can.
        private var notPermitted = false

        init(name: String, service: LivenessService) {
            self.name = name
            self.service = service
        }

        /// Takes `link`'s peers and settings. Returns the keys of the peers whose machines
        /// carried over (unchanged peer, target and settings); the others start anew.
        func configure(_ link: VPGLink) -> Set<PeerKey> {
            var old: [PeerKey: LivenessMachine] = [:]
            for p in peers { old[p.key] = p.machine }
            let now = LivenessService.monotonic()
            var carried: Set<PeerKey> = []
            peers = link.peers.compactMap { peer in
                guard let key = PeerKey(link: link, peer: peer) else { return nil }
                if let m = old[key] { carried.insert(key); return (peer, key, m) }
                return (peer, key, LivenessMachine(settings: link.liveness, now: now))
            }
            pending = pending.filter { carried.contains($0.value) }
            // The socket's family follows the targets'; a change of it needs a new one.
            if let s = socket, peers.first?.peer.probeTarget?.family != s.family { closeSocket() }
            if peers.isEmpty { cancel() }
            return carried
        }

        /// Pauses or resumes probing. Leaving probing cancels the timer and the socket and
        /// forgets the outstanding probes; entering it starts every machine afresh (peers
        /// unknown, the first probes due now: the caller then calls start()). Entering
        /// and leaving standby is logged once each.
        func setMode(_ new: Mode) {
            let old = mode
            if new == .standby { service.markStandby(name) }
            guard new != old else { return }
            mode = new
            if new == .standby {
                log(.info, "HA standby: liveness paused, the master probes the VPG gate peers", ["link": name])
            } else if old == .standby {
                log(.info, "HA master: liveness resumed", ["link": name])
            }
            if new != .probing {
                cancel()
            } else {
                let now = LivenessService.monotonic()
                peers = peers.map { ($0.peer, $0.key, LivenessMachine(settings: $0.machine.settings, now: now)) }
                pending = [:]
                service.markUnknown(name)
            }
        }

        /// Starts the timer (once; a reload reschedules it for the peers it brought).
        func start() {
            guard !peers.isEmpty, mode == .probing else { return }
            if timer != nil { schedule(); return }
            let t = DispatchSource.makeTimerSource(queue: queue)
            t.setEventHandler { [unowned self] in self.tick() }
            timer = t
            t.schedule(deadline: .now())
            t.resume()
        }

        func cancel() {
            timer?.cancel(); timer = nil
            closeSocket()
            problems.update([], log: { log(.info, $0, ["link": self.name]) })
            service.problem(name, nil)
        }

        private func closeSocket() {
            reader?.cancel(); reader = nil
            socket = nil
        }

        /// Opens the socket when there is none (the device may not exist yet, or was recreated).
        private func openSocket() {
            guard socket == nil, let family = peers.first?.peer.probeTarget?.family else { return }
            do {
                let s = try EchoSocket(device: name, family: family)
                let r = DispatchSource.makeReadSource(fileDescriptor: s.fd, queue: queue)
                r.setEventHandler { [unowned self] in self.receive() }
                // The socket outlives the source's last handler: cancelled before it closes.
                r.setCancelHandler { withExtendedLifetime(s) {} }
                r.resume()
                socket = s
                reader = r
                notPermitted = false
                problems.update([], log: { log(.info, $0, ["link": self.name]) })
                service.problem(name, nil)
            } catch let e as SystemError where e.errno == .notPermitted {
                // Not the errno's text: "Operation not permitted" is the line that tells of a
                // missing CAP_NET_ADMIN, said once (CapabilityTests).
                notPermitted = true
                let text = "liveness probes on \(name) need CAP_NET_RAW (\(e.call) refused with EPERM); peers stay unknown"
                problems.update([text], log: { log(.error, $0, ["link": self.name]) })
                service.problem(name, text)
            } catch {
                notPermitted = false
                let text = "liveness probes on \(name) cannot be sent: \(error)"
                problems.update([text], log: { log(.warning, $0, ["link": self.name]) })
                service.problem(name, text)
            }
        }

        private func tick() {
            guard mode == .probing else { return }
            openSocket()
            if notPermitted {
                // Tried again in a second, not at the probes' pace: nothing can be sent,
                // and nothing is known of the peers.
                timer?.schedule(deadline: .now() + .seconds(1), leeway: .milliseconds(10))
                return
            }
            // Judged before anything is sent, with or without a socket: a probe that went
            // out before the device vanished is still lost when its time is up.
            let now = LivenessService.monotonic()
            for i in peers.indices {
                let lostBefore = peers[i].machine.probesLost
                let verdict = peers[i].machine.expire(at: now)
                record(i, lostBefore: lostBefore, verdict: verdict)
                guard peers[i].machine.nextSend <= now, let target = peers[i].peer.probeTarget else { continue }
                let sentAt = LivenessService.monotonic()
                if let socket {
                    sequence &+= 1
                    do {
                        try socket.send(to: target, sequence: sequence)
                        pending[sequence] = peers[i].key
                        peers[i].machine.sent(sequence: sequence, at: sentAt)
                        service.update(name, peers[i].peer.outerIpAddress) { $0.probesSent += 1 }
                        continue
                    } catch let e as SystemError where e.errno == .noSuchDevice || e.errno.rawValue == ENXIO {
                        closeSocket()   // the device went away or was recreated: a new socket next time
                    } catch {
                        // Unreachable for now (no neighbour yet): the probe will be judged lost.
                        pending[sequence] = peers[i].key
                        peers[i].machine.sent(sequence: sequence, at: sentAt)
                        service.update(name, peers[i].peer.outerIpAddress) { $0.probesSent += 1 }
                        continue
                    }
                }
                // Could not be sent (no socket: the device is missing): sent and lost.
                let before = peers[i].machine.probesLost
                let v = peers[i].machine.unsent(at: sentAt)
                service.update(name, peers[i].peer.outerIpAddress) { $0.probesSent += 1 }
                record(i, lostBefore: before, verdict: v)
            }
            prunePending()
            service.counted()
            schedule()
        }

        /// Counts the probes peer `i`'s machine judged lost since `lostBefore`, and its new state.
        private func record(_ i: Int, lostBefore: UInt64, verdict: PeerLiveness.State?) {
            let lost = peers[i].machine.probesLost - lostBefore
            if lost > 0 { service.update(name, peers[i].peer.outerIpAddress) { $0.probesLost += lost } }
            if let verdict { service.changed(link: name, peer: peers[i].peer, to: verdict, machine: peers[i].machine) }
        }

        /// Forgets the sequence numbers of probes judged lost (never answered), keeping the
        /// last 1,024: far more than any machine still waits for.
        private func prunePending() {
            guard pending.count > 2048 else { return }
            pending = pending.filter { sequence &- $0.key < 1024 }
        }

        private func receive() {
            guard let socket else { return }
            for r in socket.receiveReplies() {
                guard let key = pending.removeValue(forKey: r.sequence),
                      let i = peers.firstIndex(where: { $0.key == key }), key.target == r.from else { continue }
                let verdict = peers[i].machine.answered(sequence: r.sequence, at: r.at)
                // Shown while the peer is not judged down: one answer of a down peer is
                // no round-trip time of a path in use.
                if peers[i].machine.state != .down {
                    let rtt = peers[i].machine.lastRTT.map { Double($0) / 1e9 }
                    service.update(name, peers[i].peer.outerIpAddress) { $0.rttSeconds = rtt }
                }
                if let verdict { service.changed(link: name, peer: peers[i].peer, to: verdict, machine: peers[i].machine) }
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
