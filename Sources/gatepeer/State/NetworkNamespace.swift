import GatePeerKernel
import Glibc

/// The network namespace this process runs in. `inode` is the inode of /proc/self/ns/net
/// (the kernel's nsfs file): two processes share a namespace exactly when they see the
/// same inode, whatever their mount namespace or state directory.
struct NetworkNamespace: Equatable {
    let inode: UInt64
    /// "netns/NAME" for the /run/netns entry whose inode is ours (exact inode match, never
    /// a name pattern); else "host" for PID 1's namespace (the system's own, also when
    /// PID 1's cannot be read, see `current()`); else "netns/ino-INODE". Also the state
    /// directory below the base, "host" being the base.
    let name: String

    /// Reads /proc/self/ns/net, the bind mounts in /run/netns and /proc/1/ns/net.
    /// Throws SystemError (stat of /proc/self/ns/net) when our own namespace cannot be
    /// read (no /proc): without it gatepeer cannot tell network namespaces apart.
    ///
    /// A namespace with a /run/netns name is that name. Otherwise it is the host's when it
    /// is PID 1's, and also when PID 1's cannot be read: the hardened unit has no
    /// CAP_SYS_PTRACE, and the kernel lets a process read another's namespace links only
    /// with ptrace access (proc(5), /proc/pid/ns), which PID 1 with its full capability
    /// set refuses. Keying that case by inode instead put the service's state in a new
    /// directory at every boot of a container, whose namespace inode changes.
    static func current() throws(SystemError) -> NetworkNamespace {
        guard let ours = inode(of: "/proc/self/ns/net") else {
            throw SystemError("stat", "/proc/self/ns/net (gatepeer needs /proc to tell network namespaces apart)", .current)
        }
        if let named = namedNamespaces().first(where: { $0.inode == ours })?.name {
            return NetworkNamespace(inode: ours, name: "netns/" + named)
        }
        let first = inode(of: "/proc/1/ns/net")
        if first == nil || first == ours { return NetworkNamespace(inode: ours, name: "host") }
        return NetworkNamespace(inode: ours, name: "netns/ino-\(ours)")
    }

    /// `stat` (following a bind mount to the nsfs file it shows); nil when unreadable.
    static func inode(of path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    /// The entries of /run/netns (as `ip netns add` makes them) with their inodes.
    static func namedNamespaces() -> [(name: String, inode: UInt64)] {
        let names = (try? Files.entries("/run/netns")) ?? []
        return names.filter { !$0.hasPrefix(".") }.compactMap { n in inode(of: "/run/netns/" + n).map { (n, $0) } }
    }

    /// This boot's id (/proc/sys/kernel/random/boot_id); nil when unreadable. Every network
    /// namespace dies at reboot, so a namespace recorded under another boot id is gone.
    static func bootID() -> String? {
        Files.readAll("/proc/sys/kernel/random/boot_id")
            .map { String(decoding: $0, as: UTF8.self).trimmingWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether the namespace with this inode is provably gone: no /run/netns entry holds it
    /// and a complete scan of /proc found no process in it. A /proc/PID/ns/net we may not
    /// read (no CAP_SYS_PTRACE over that process) leaves it unproven, so false; a process
    /// that exits during the scan is no evidence either way and is skipped. A namespace
    /// kept only by an open descriptor or a bind mount outside /run/netns is not seen.
    static func provablyGone(inode: UInt64) -> Bool {
        guard let live = liveInodes() else { return false }
        return !live.contains(inode)
    }

    /// The inodes of every network namespace with a /run/netns entry or a process in it;
    /// nil when the scan of /proc is incomplete (a /proc/PID/ns/net we may not read), so
    /// that no namespace is called gone on partial evidence, unless `partial`: then such
    /// processes are skipped (PID 1's is unreadable under the hardened unit and in some
    /// containers). A process that exits during the scan is skipped.
    static func liveInodes(partial: Bool = false) -> Set<UInt64>? {
        var live = Set(namedNamespaces().map(\.inode))
        guard let pids = try? Files.entries("/proc") else { return nil }
        for pid in pids where pid.first?.isNumber == true {
            var st = stat()
            if stat("/proc/\(pid)/ns/net", &st) == 0 {
                live.insert(UInt64(st.st_ino))
            } else if errno != ENOENT && errno != ESRCH && !partial {
                return nil
            }
        }
        return live
    }
}
