import GatePeerCore
import GatePeerKernel
import Glibc

/// runtime.json: the running daemon's pid, start time, counters and VPG gate peer
/// liveness (RuntimeReport), written by `gatepeer run` and read by `status` and `metrics`.
extension StateStore {
    /// runtime.json in this namespace's state directory.
    var runtimePath: String { directory + "/runtime.json" }

    /// What `status` and `metrics` may believe of the `gatepeer run` that manages this
    /// namespace now (RuntimeReading): its report only while that daemon (the holder of
    /// the namespace's daemon lock, started when the report says) wrote it within
    /// RuntimeReport.staleAfter seconds.
    func runtimeReading(now: Double = Clock.now()) -> RuntimeReading {
        guard let pid = NamespaceLock.runningDaemon(namespace) else { return .none }
        let text: String
        switch read(runtimePath) {
        case .success(let t?): text = t
        case .success(nil): return .unbelievable(pid: pid, problem: "\(runtimePath) is missing")
        case .failure(let e): return .unbelievable(pid: pid, problem: "\(e.path) cannot be read (\(e.reason))")
        }
        let r: RuntimeReport
        do {
            r = try RuntimeReport.decode(text)
        } catch {
            return .unbelievable(pid: pid, problem: "\(runtimePath) is damaged (\(error))")
        }
        guard String(r.pid) == pid else {
            return .unbelievable(pid: pid, problem: "\(runtimePath) was written by pid \(r.pid), not by it")
        }
        // The same pid, but another process: the one that wrote the report died and its
        // pid was reused (the daemon writes its own /proc start time, so only
        // btime adjustments of a second or so separate the two).
        if let started = ProcessStart.unixSeconds(pid: r.pid), abs(started - r.startTime) > 2 {
            return .unbelievable(pid: pid, problem: "\(runtimePath) was written by an earlier process with the same pid")
        }
        if r.isStale(now: now) {
            let age = Int((now - r.written).rounded())
            return .unbelievable(pid: pid, problem: "\(runtimePath) was last written \(age) s ago (the daemon is stopped, hung or cannot write it)")
        }
        return .live(r)
    }

    /// Replaces runtime.json (0600) with `report`. Not synced to disk: the file only
    /// describes the running process, and a crash makes it stale whatever it holds.
    /// Throws StateError naming the file.
    func saveRuntimeReport(_ report: RuntimeReport) throws {
        try claim()
        if let e = Files.replace(runtimePath, with: Array((report.json.render() + "\n").utf8), mode: 0o600, sync: false, limit: Files.stateLimit) {
            throw StateError(message: e)
        }
    }
}

/// What a reader may believe of the namespace's daemon (StateStore.runtimeReading).
enum RuntimeReading {
    /// No `gatepeer run` holds the namespace's daemon lock.
    case none
    /// The holder's fresh report.
    case live(RuntimeReport)
    /// A daemon (`pid`, "?" when it has not written its pid yet) holds the lock, but its
    /// report is stale, missing, unreadable, damaged or another process's (`problem`).
    case unbelievable(pid: String, problem: String)

    /// The fresh report, or nil.
    var report: RuntimeReport? {
        if case .live(let r) = self { return r }
        return nil
    }
}

extension StatusReport {
    /// Attaches what `reading` says of the daemon (StatusReport.attach, attachUnbelievable).
    mutating func attach(_ reading: RuntimeReading) {
        switch reading {
        case .none: attach(nil as RuntimeReport?)
        case .live(let r): attach(r)
        case .unbelievable(let pid, let problem): attachUnbelievable(pid: pid, problem: problem)
        }
    }
}

/// When a process started, from the kernel (proc(5)): /proc/PID/stat's starttime (clock
/// ticks after boot) plus /proc/stat's btime (boot, Unix seconds).
enum ProcessStart {
    /// Unix seconds (to the clock tick, btime to the second); nil when the process is gone
    /// or /proc cannot be read.
    static func unixSeconds(pid: Int32) -> Double? {
        guard case .success(let stat) = Files.read("/proc/\(pid)/stat", limit: 4096),
              case .success(let system) = Files.read("/proc/stat", limit: 1 << 20) else { return nil }
        // The command name (field 2) may hold spaces and parentheses: fields after the last ')'.
        let text = String(decoding: stat, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); starttime is field 22.
        guard fields.count > 19, let ticks = Double(fields[19]) else { return nil }
        let btime = String(decoding: system, as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix("btime ") }.flatMap { Double(String($0.dropFirst(6)).trimmingWhitespace()) }
        guard let btime else { return nil }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        return btime + ticks / (hz > 0 ? hz : 100)
    }
}
