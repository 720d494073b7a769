import GatePeerKernel

/// The wall clock (Clock.now, CLOCK_REALTIME) in the units grant deadlines, learned-address
/// expiries and nft element timeouts are kept in. Not for measuring intervals: it jumps
/// when the system time is set.
enum WallClock {
    /// Whole seconds since the Unix epoch.
    static func seconds() -> Int64 { Int64(Clock.now()) }

    /// Milliseconds since the Unix epoch, rounded down, for element timeouts that end
    /// exactly at a deadline.
    static func milliseconds() -> Int64 { Int64((Clock.now() * 1000).rounded(.down)) }
}
