import GatePeerCore
import GatePeerKernel
import Glibc

/// The GATEPEER_* environment variables gatepeer reads, checked before any command does
/// anything: a bad value is bad input (exit 2, naming the variable and what is valid),
/// never a fallback. An empty or relative directory resolved against the cwd ("relstate")
/// or the root ("" + "/netns/..."), so state landed wherever the command was started.
enum Settings {
    /// Every variable: GATEPEER_LOCK_WAIT (seconds), GATEPEER_STATE_DIR and
    /// GATEPEER_SWANCTL_DIR (absolute directories). Throws the first problem.
    static func check() throws(SettingError) {
        _ = try NamespaceLock.waitFromEnvironment()
        _ = try directory("GATEPEER_STATE_DIR", default: "/var/lib/gatepeer")
        _ = try directory("GATEPEER_SWANCTL_DIR", default: "/etc/swanctl/conf.d")
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
