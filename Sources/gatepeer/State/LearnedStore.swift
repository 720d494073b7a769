import GatePeerCore

/// learned.json: the addresses the daemon learned for domain names (from its own lookups
/// and from devices' answers through the forwarder), with their deadlines, so a restart
/// keeps them and `filter check` sees what the kernel holds. Written only by the daemon.
extension StateStore {
    /// learned.json in this namespace's state directory.
    var learnedPath: String { directory + "/learned.json" }

    /// The addresses learned for domain names; none when the directory is refused or the
    /// file absent. A damaged file is reported, and moved aside by a holder of the writer
    /// lock (a reader leaves it).
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

    /// Replaces learned.json (see `write`); throws StateError naming the file.
    func saveLearned(_ l: LearnedAddresses) throws { try write(learnedPath, l.encode()) }
}
