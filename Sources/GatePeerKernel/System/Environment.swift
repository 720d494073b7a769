import CSystem
import Glibc

/// The process environment without Foundation's ProcessInfo (which loads its whole
/// environment into a dictionary on first use).
public enum Environment {
    /// The value of `name`, nil when unset. An empty value is returned as "".
    public static func get(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
