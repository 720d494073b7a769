import GatePeerCore
import GatePeerKernel

/// runtime.json: the running daemon's pid, start time, counters and VPG gate peer
/// liveness (RuntimeReport), written by `gatepeer run` and read by `status` and `metrics`.
extension StateStore {
    /// runtime.json in this namespace's state directory.
    var runtimePath: String { directory + "/runtime.json" }

    /// The report of the `gatepeer run` that manages this namespace now, or nil: no
    /// daemon holds the namespace's daemon lock, or the file was written by another
    /// process (a daemon that died, one with another state directory), or it is absent,
    /// refused or damaged (said on stderr: `status` still reports the kernel).
    func liveRuntimeReport() -> RuntimeReport? {
        guard let pid = NamespaceLock.runningDaemon(namespace) else { return nil }
        let text: String
        switch read(runtimePath) {
        case .success(let t?): text = t
        case .success(nil): return nil
        case .failure(let e):
            Console.error("gatepeer: \(e.path) cannot be read (\(e.reason)); peer liveness and daemon counters are unknown")
            return nil
        }
        do {
            let r = try RuntimeReport.decode(text)
            return String(r.pid) == pid ? r : nil
        } catch {
            Console.error("gatepeer: \(runtimePath) is damaged (\(error)); peer liveness and daemon counters are unknown")
            return nil
        }
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
