/// Lower-case hexadecimal, the one spelling of nft names' digests and fingerprints
/// (`fp_`, `fk_`, address sets) and of raw key bytes read back from the kernel.
public enum Hex {
    /// `v` in lower-case digits, zero-padded on the left to at least `width` digits
    /// (16 for a 64-bit digest: names keep one length whatever the value).
    public static func digits(_ v: UInt64, width: Int) -> String {
        let s = String(v, radix: 16)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// Two lower-case digits per byte, in order ("0a80ff").
    public static func bytes(_ b: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(b.count * 2)
        for x in b {
            out.append(digit(x >> 4))
            out.append(digit(x & 0xf))
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func digit(_ n: UInt8) -> UInt8 { n < 10 ? UInt8(ascii: "0") + n : UInt8(ascii: "a") + n - 10 }
}
