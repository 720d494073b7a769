/// The one reader of whole numbers written as text (command-line values, port ranges in
/// config strings, protocol numbers, durations, --resync): plain decimal ASCII digits,
/// no sign, no leading zero (only "0" itself), no spaces. Int() also takes "+443" and
/// "0443", so `--port +443` and `"ports": ["080-090"]` meant port 443 and 80..90 where
/// nft, iproute2 and people read something else or nothing.
public enum DecimalText {
    /// The value of `s` when it is strict decimal and within `range`; nil otherwise.
    public static func parse<S: StringProtocol>(_ s: S, in range: ClosedRange<Int>) -> Int? {
        let u = s.utf8
        guard let first = u.first, u.count <= 18, first != UInt8(ascii: "0") || u.count == 1 else { return nil }
        var n = 0
        for c in u {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int(c - UInt8(ascii: "0"))
        }
        return range.contains(n) ? n : nil
    }
}
