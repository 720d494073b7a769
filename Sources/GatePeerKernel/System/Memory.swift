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
        hugeRegion = (start, Int(after - start))
    }

    /// The heap range prepareForLargeInput advised for huge pages (start, bytes), if any.
    nonisolated(unsafe) private static var hugeRegion: (start: UInt, bytes: Int)?

    /// Gives the kernel back the pages of every freed heap chunk (malloc_trim(0): all
    /// arenas, the top and the free chunks inside them). A long-lived process that called
    /// prepareForLargeInput keeps its heap otherwise: each reconcile of a large policy
    /// leaves its arrays freed but resident, fragmented between the few objects that stay,
    /// and the daemon's resident size climbed with every reload (82 to 140 MiB over ten
    /// of a 100,000-rule policy). Call between two pieces of work; a one-shot command exits
    /// instead. Below 4 MiB of free heap (mallinfo2's fordblks, over all arenas) it does
    /// nothing: a small daemon's frequent learned-address loads cost no trim each.
    public static func returnFreed() {
        guard mallinfo2().fordblks >= 4 << 20 else { return }
        _ = malloc_trim(0)
    }

    /// For a long-lived process whose work runs on one serial queue but on whichever
    /// dispatch worker thread is free: one malloc arena (mallopt M_ARENA_MAX 1) instead of
    /// one per thread that ever allocated, so a large policy's live data and its freed
    /// chunks stay in one heap that returnFreed trims. Without it a reconcile that ran on
    /// another worker left its own fragmented arena behind (the daemon's resident size
    /// moved between 40 and 57 MiB from one reload of a 100,000-rule policy to the next).
    /// Call once, before the threads start.
    ///
    /// Also takes back prepareForLargeInput's huge-page advice (MADV_NOHUGEPAGE): a 2 MiB
    /// page with one live object left in it stays resident whole, which is a fair price
    /// for one command's speed but not for a process that lives for months.
    public static func prepareForLongRunning() {
        _ = mallopt(M_ARENA_MAX, 1)
        if let r = hugeRegion {
            _ = madvise(UnsafeMutableRawPointer(bitPattern: r.start), r.bytes, MADV_NOHUGEPAGE)
            hugeRegion = nil
        }
    }
}
