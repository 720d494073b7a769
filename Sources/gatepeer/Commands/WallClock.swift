import Glibc

/// The wall clock (CLOCK_REALTIME) in the units grant deadlines, learned-address expiries
/// and nft element timeouts are kept in. Not for measuring intervals: it jumps when the
/// system time is set.
enum WallClock {
    /// Whole seconds since the Unix epoch.
    static func seconds() -> Int64 { Int64(now().tv_sec) }

    /// Milliseconds since the Unix epoch, rounded down, for element timeouts that end
    /// exactly at a deadline.
    static func milliseconds() -> Int64 {
        let t = now()
        return Int64(t.tv_sec) * 1000 + Int64(t.tv_nsec) / 1_000_000
    }

    private static func now() -> timespec {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)  // cannot fail for CLOCK_REALTIME with a valid pointer
        return t
    }
}
