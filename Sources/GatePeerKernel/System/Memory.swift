import CSystem
import Glibc

/// A policy of 100,000 rules makes ~100 MB of short-lived arrays. With glibc's defaults
/// the big ones are separate mmaps, returned on free and faulted in again 4 KiB at a
/// time: about 40 ms of page faults per run, a third of a one-rule change. Here they
/// come from one heap that grows in large steps, keeps what is freed, and is backed by
/// transparent huge pages where the system allows them (madvise mode).
public enum Memory {
    /// Sets glibc's malloc thresholds (mallopt M_MMAP_THRESHOLD, M_TRIM_THRESHOLD) for the
    /// rest of the process; call once, before building a large policy.
    public static func prepareForLargeInput() {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)  // glibc's maximum on 64-bit
        _ = mallopt(M_TRIM_THRESHOLD, 1 << 30)
        _ = mallopt(M_TOP_PAD, 256 << 20)
        let before = UInt(bitPattern: sbrk(0))
        gatepeer_grow_heap(1 << 20)  // the heap grows by the pad, and keeps it
        let after = UInt(bitPattern: sbrk(0))
        let huge: UInt = 2 << 20
        let start = (before + huge - 1) & ~(huge - 1)
        guard after > start + huge else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), Int(after - start), MADV_HUGEPAGE)
    }
}
