import GatePeerCore
import GatePeerKernel
import Glibc

/// The GATEPEER_* environment variables gatepeer reads, checked before any command does
/// anything: a bad value is bad input (exit 2, naming the variable and what is valid),
/// never a fallback. An empty or relative directory resolved against the cwd ("relstate")
/// or the root ("" + "/netns/..."), so state landed wherever the command was started.
struct Settings: Sendable {
    /// $GATEPEER_STATE_DIR or /var/lib/gatepeer: grants, learned addresses, table caches.
    let stateDirectory: String
    /// $GATEPEER_SWANCTL_DIR or /etc/swanctl/conf.d: where `ipsec apply` writes.
    let swanctlDirectory: String
    /// $GATEPEER_LOCK_WAIT or 10: seconds a writer waits for the namespace's lock.
    let lockWait: Double

    /// Every variable, read and checked once per process; `check()` reports the first
    /// problem before any command acts, so `current` is only read after it passed.
    private static let resolved: Result<Settings, SettingError> = Result { () throws(SettingError) in
        let wait = try NamespaceLock.waitFromEnvironment()
        return Settings(stateDirectory: try directory("GATEPEER_STATE_DIR", default: "/var/lib/gatepeer"),
                        swanctlDirectory: try directory("GATEPEER_SWANCTL_DIR", default: "/etc/swanctl/conf.d"),
                        lockWait: wait)
    }

    /// Throws the first bad GATEPEER_* value (main calls it before any command).
    static func check() throws(SettingError) { _ = try resolved.get() }

    /// The checked settings. A bad value was refused by `check()` before any command ran
    /// (exit 2), so a failure here is a command run without it: it stops the process.
    static var current: Settings {
        switch resolved {
        case .success(let s): return s
        case .failure(let e): fatalError("Settings.current read before Settings.check(): \(e)")
        }
    }

    /// The directory in variable `name`, `default` when unset; throws when it is set but
    /// not an absolute path, or names something that exists and is not a directory (a
    /// regular file there made every state read fail with ENOTDIR after apply had already
    /// been let through to the kernel).
    static func directory(_ name: String, default fallback: String) throws(SettingError) -> String {
        guard let v = Environment.get(name) else { return fallback }
        guard v.hasPrefix("/") else {
            throw SettingError(message: "\(name)=\(Echo.quoted(v, limit: Echo.pathLimit)) is not an absolute path; valid: an absolute directory such as \(fallback) (unset: \(fallback))")
        }
        var st = stat()
        if stat(v, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR {
            throw SettingError(message: "\(name)=\(Echo.quoted(v, limit: Echo.pathLimit)) is not a directory; valid: an absolute directory such as \(fallback) (created when missing; unset: \(fallback))")
        }
        return v
    }
}
