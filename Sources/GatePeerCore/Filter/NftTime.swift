/// nft's time syntax for element timeouts, to the millisecond.
public enum NftTime {
    /// "900s", "899s500ms", "250ms".
    public static func text(_ ms: Int64) -> String {
        let s = ms / 1000, r = ms % 1000
        return s == 0 ? "\(r)ms" : r == 0 ? "\(s)s" : "\(s)s\(r)ms"
    }
}
