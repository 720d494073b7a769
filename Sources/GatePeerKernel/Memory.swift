import CNetlink
import Glibc

/// A policy of 100,000 rules makes ~100 MB of short-lived arrays. With glibc's defaults
/// the big ones are separate mmaps, returned on free and faulted in again 4 KiB at a
/// time: about 40 ms of page faults per run, a third of a one-rule change. Here they
/// come from one heap that grows in large steps, keeps what is freed, and is backed by
/// transparent huge pages where the system allows them (madvise mode).
public enum Memory {
    public static func prepareForLargeInput() {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)  // glibc's maximum on 64-bit
        _ = mallopt(M_TRIM_THRESHOLD, 1 << 30)
        _ = mallopt(M_TOP_PAD, 256 << 20)
        let before = UInt(bitPattern: sbrk(0))
        // Grows the heap by the pad. Touched and handed to an opaque call so the
        // optimizer cannot drop the malloc/free pair.
        if let p = malloc(1 << 20) {
            p.storeBytes(of: 1, as: UInt8.self)
            malloc_usable_size(p) > 0 ? free(p) : free(p)
        }
        let after = UInt(bitPattern: sbrk(0))
        let huge: UInt = 2 << 20
        let start = (before + huge - 1) & ~(huge - 1)
        guard after > start + huge else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), Int(after - start), MADV_HUGEPAGE)
    }
}
