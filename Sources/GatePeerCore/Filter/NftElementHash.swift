/// The hash of one set element, the same whether it comes from a kernel dump or from a
/// rendered interval: FNV-1a 64 over the key, key end, flags, verdict and chain.
public enum NftElementHash {
    /// Inlinable: the kernel layer hashes 200,000 dumped elements with it, and an
    /// unspecialised generic call per byte costs several times the hashing itself.
    @inlinable
    public static func of<K: Collection, E: Collection, C: Collection, D: Collection>(key: K, keyEnd: E, flags: UInt32, verdict: Int32?, chain: C, data: D) -> UInt64
    where K.Element == UInt8, E.Element == UInt8, C.Element == UInt8, D.Element == UInt8 {
        var h = fnv1a64(key)
        h = fnv1a64([0xfe], seed: h)
        h = fnv1a64(keyEnd, seed: h)
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x0000_0100_0000_01b3 }
        mix(UInt64(flags))
        mix(verdict.map { UInt64(UInt32(bitPattern: $0)) } ?? 0x1_0000_0000)
        h = fnv1a64(chain, seed: h)
        h = fnv1a64(data, seed: h)
        // Spread the bits: element hashes are summed.
        h ^= h >> 33; h = h &* 0xff51_afd7_ed55_8ccd; h ^= h >> 33
        return h
    }

    /// nf_tables verdict codes the destination maps use, and the interval-end flag.
    public static let continueCode: Int32 = -1  // NFT_CONTINUE
    /// NFT_GOTO (enum nft_verdicts, <linux/netfilter/nf_tables.h>).
    public static let gotoCode: Int32 = -4      // NFT_GOTO
    /// NFT_RETURN (enum nft_verdicts).
    public static let returnCode: Int32 = -5    // NFT_RETURN
    /// NFT_SET_ELEM_INTERVAL_END (enum nft_set_elem_flags): the element ends an interval.
    public static let intervalEnd: UInt32 = 1   // NFT_SET_ELEM_INTERVAL_END
}
