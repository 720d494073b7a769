import GatePeerCore
import GatePeerKernel

/// grants.json: the grants `filter grant` made (scope and deadline), so a full load puts
/// them back and `filter check` and `filter grants` see them.
extension StateStore {
    /// grants.json in this namespace's state directory.
    var grantsPath: String { directory + "/grants.json" }

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

    /// Replaces grants.json with `grants` (see `grantsText` and `write`).
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
}

/// A grant or revoke not done, or grants that cannot be listed: the message for the user
/// (without the "gatepeer: " prefix) and the exit status (2 for a scope that overlaps an
/// active grant, 1 otherwise). The kernel and grants.json are as they were.
struct GrantRefusal: Error, CustomStringConvertible {
    let message: String
    let exit: Exit
    var description: String { message }
}

/// `filter grant`, `filter revoke` and `filter grants` on one network namespace: grants.json
/// and the kernel's grant elements change together under the namespace's writer lock (the
/// one every load holds), so a load in progress is waited for, not raced. Allowed while the
/// daemon runs: it reads grants.json under the same lock at each load. Kernel failures
/// (KernelError) and a state file that cannot be written (StateError) are thrown as they
/// are; a refusal is a GrantRefusal.
struct GrantStore {
    let state: StateStore

    /// The grants of the namespace this process runs in (StateStore.open()).
    init(_ state: StateStore = StateStore.open()) { self.state = state }

    /// The grants that have not expired at `now` (Unix seconds), in file order. Throws
    /// GrantRefusal (exit 1) when they are unknown (the directory refused or grants.json
    /// damaged): an empty list would hide the kernel's live grants. Reads only.
    func active(now: Int64) throws(GrantRefusal) -> [Grant] {
        if state.refusal != nil {
            // open() printed why.
            throw GrantRefusal(message: "filter grants: state refused, so the active grants are unknown (the kernel keeps its grant elements; see nft list table inet \(NftNames.table))", exit: .runtime)
        }
        guard let grants = state.loadGrantsIfKnown() else {
            throw GrantRefusal(message: "filter grants: " + state.stateProblem(keptDynamic: true, verb: "stay")!, exit: .runtime)
        }
        return grants.filter { $0.expires > now }
    }

    /// `filter grant`: records `grant` (a renewal when its scope is granted already) and,
    /// when table inet gatepeer is loaded, adds its elements (the kernel first: a grant it
    /// refuses is not recorded as if it held). `seconds`: the duration asked, for the line
    /// returned; `now`: Unix seconds (grants expired by then are dropped from the file);
    /// `open`: the kernel, opened once the file is known to be usable. Returns the line to
    /// print. Refused when the directory is refused, grants.json is damaged (a file with
    /// only this grant would let the next apply strip the others), another writer keeps
    /// the lock, the scope overlaps another active grant, or the file would grow past
    /// what a read accepts.
    func grant(_ grant: Grant, seconds: Int64, now: Int64, kernel open: () -> Kernel) throws -> String {
        let lock = try lock("grant")
        return try withExtendedLifetime(lock) {
            guard let known = state.loadGrantsIfKnown() else {
                throw GrantRefusal(message: "filter grant: not done: " + state.stateProblem(keptDynamic: true, verb: "stay")!, exit: .runtime)
            }
            var grants = known.filter { $0.expires > now }
            let kernel = open()
            let tableThere = try kernel.observeFilter() != nil  // only the table's counters, no full dumps
            if let c = grants.first(where: { $0.conflicts(with: grant) }) {
                throw GrantRefusal(message: "filter grant: overlaps the active grant \(c.summary) (expires in \(Grant.formatDuration(c.expires - now))); revoke it or grant a disjoint scope", exit: .usage)
            }
            if let old = grants.firstIndex(where: { $0.sameScope(as: grant) }) {
                grants[old].expires = grant.expires  // a renewal
            } else {
                grants.append(grant)
            }
            // A file too large to read back is refused before the kernel changes.
            let text: String
            do { text = try state.grantsText(grants) } catch {
                throw GrantRefusal(message: "filter grant: \(error)", exit: .runtime)
            }
            if tableThere {
                if let refused = try kernel.loadElements(GrantState.elements([grant], nowMs: WallClock.milliseconds())).first { throw refused }
            }
            try state.saveGrants(text: text)
            let line = "granted \(grant.summary) for \(Grant.formatDuration(seconds))"
            return tableThere ? line : line + " (active once gatepeer apply loads the filter)"
        }
    }

    /// `filter revoke`: deletes the kernel's elements for the scope of `grant` whatever
    /// grants.json says (a damaged or stale file must not leave a live grant unrevocable)
    /// and removes the scope from the file when it lists it. `now`: Unix seconds; `open`:
    /// the kernel. Returns the line to print. Refused when the directory is refused,
    /// another writer keeps the lock, or neither the file nor the kernel holds the scope.
    func revoke(_ grant: Grant, now: Int64, kernel open: () -> Kernel) throws -> String {
        let lock = try lock("revoke")
        return try withExtendedLifetime(lock) {
            let known = state.loadGrantsIfKnown()
            var grants = (known ?? []).filter { $0.expires > now }
            let kernel = open()
            let tableThere = try kernel.observeFilter() != nil
            let inFile = grants.contains { $0.sameScope(as: grant) }
            let deleted = tableThere ? try kernel.deleteElements(GrantState.deleteElements(grant)) : 0
            let fileText = known == nil ? "\(state.grantsPath) is damaged and was left as it is" : "it was not in \(state.grantsPath)"
            guard inFile || deleted > 0 else {
                throw GrantRefusal(message: "no active grant \(grant.summary): \(known == nil ? fileText : "not in \(state.grantsPath)"), none of its elements in table inet \(NftNames.table)", exit: .runtime)
            }
            if inFile {
                grants.removeAll { $0.sameScope(as: grant) }
                try state.saveGrants(grants)
            }
            let kernelPart = tableThere ? "\(deleted) element(s) deleted from table inet \(NftNames.table)" : "no filter table loaded"
            return Echo.line("revoked \(grant.summary) (\(kernelPart)" + (inFile ? ")" : "; \(fileText))"))
        }
    }

    /// The writer lock for `command` ("grant" or "revoke"); refused when the directory is
    /// refused or another writer keeps the lock.
    private func lock(_ command: String) throws -> NamespaceLock {
        if let r = state.refusal { throw GrantRefusal(message: "filter \(command): not done: \(r)", exit: .runtime) }
        do {
            return try state.lockForWriting(command)
        } catch {
            throw GrantRefusal(message: error.message, exit: .runtime)
        }
    }
}
