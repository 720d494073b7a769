import GatePeerCore
import GatePeerKernel
import Glibc

/// CAP_NET_ADMIN, which every kernel call gatepeer makes needs (reads included): whether
/// the process holds it, and what to tell the operator when it does not.
enum NetAdmin {
    /// Whether this process holds CAP_NET_ADMIN (capability 12, linux/capability.h) in its
    /// effective set, from the CapEff line of /proc/self/status (hexadecimal); nil when that
    /// cannot be read.
    static func held() -> Bool? {
        guard let bytes = Files.readAll("/proc/self/status") else { return nil }
        let status = String(decoding: bytes, as: UTF8.self)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let bits = UInt64(line.dropFirst("CapEff:".count).filter { $0 != " " && $0 != "\t" }, radix: 16) else { return nil }
        return bits & (1 << 12) != 0
    }

    /// What to do about a missing CAP_NET_ADMIN, with the "gatepeer: " prefix: said once, at
    /// startup or at the first EPERM. "Over this network namespace": a process can show the
    /// capability in CapEff (a user namespace of its own) and still lack it where it counts.
    static func hint(_ verb: String) -> String {
        "gatepeer: \(verb) needs CAP_NET_ADMIN over this network namespace (its links, routes, FDB entries and nftables, reading them included), which this process does not have; run it as root, or as the shipped gatepeer.service (AmbientCapabilities=CAP_NET_ADMIN)"
    }

    /// Exits 1 with `hint` when the capability is missing: without it every kernel call
    /// answers EPERM, which the daemon would otherwise log at every resync forever.
    static func require(_ verb: String) {
        if held() == false {
            Console.error(hint(verb))
            exit(Exit.runtime.rawValue)
        }
    }

    /// The error's text, and the hint after it when the kernel said EPERM (instead of a
    /// bare "Operation not permitted").
    static func describe(_ error: Error, verb: String) -> String {
        if let k = error as? KernelError, k.errno == EPERM { return "gatepeer: \(error)\n\(hint(verb))" }
        return "gatepeer: \(error)"
    }
}
