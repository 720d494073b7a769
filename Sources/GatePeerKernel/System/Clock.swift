import CSystem
import Glibc

/// Clocks as seconds in a Double (ns resolution for a few months of uptime, µs for
/// wall-clock dates): what deadlines and timestamps in gatepeer are measured in.
public enum Clock {
    /// CLOCK_MONOTONIC: seconds since an arbitrary point at boot; never jumps when the
    /// wall clock is set, so deadlines and durations use it.
    public static func monotonic() -> Double { read(CLOCK_MONOTONIC) }

    /// CLOCK_REALTIME: seconds since 1970-01-01 00:00 UTC, for timestamps people read
    /// (replaces Foundation's Date() where only the number is needed).
    public static func now() -> Double { read(CLOCK_REALTIME) }

    private static func read(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
