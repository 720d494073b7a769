import Glibc

public enum Files {
    /// The file's size in bytes, nil when it cannot be read.
    public static func size(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    /// The whole file, read straight into one array (no Data, no String copy, no zeroing
    /// pass first). nil and errno set when it cannot be opened or read.
    public static func readAll(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        var failed = false
        let out = [UInt8](unsafeUninitializedCapacity: Int(st.st_size)) { buffer, count in
            count = 0
            while count < buffer.count {
                let n = read(fd, buffer.baseAddress! + count, buffer.count - count)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failed = true; break }
                if n == 0 { break }  // shrank while being read
                count += n
            }
        }
        return failed ? nil : out
    }

    /// Replaces `path` with `bytes`: written to a temporary next to it, created with
    /// `mode` from the start (never wider, whatever the umask), then renamed over, so a
    /// reader never sees half a file. `sync`: fsync before the rename, so a crash leaves
    /// the old file or the new one. nil on success, else what went wrong.
    public static func replace(_ path: String, with bytes: [UInt8], mode: mode_t, sync: Bool = true) -> String? {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let tmp = String(path[..<slash]) + "." + String(path[slash...]) + ".tmp.\(getpid())"
        unlink(tmp)  // a leftover of a crashed run with this pid
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { return "cannot write \(tmp): \(String(cString: strerror(errno)))" }
        fchmod(fd, mode)  // the umask may have narrowed it
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        let synced = !sync || fsync(fd) == 0
        close(fd)
        guard done == bytes.count, synced, rename(tmp, path) == 0 else {
            let e = String(cString: strerror(errno))
            unlink(tmp)
            return "cannot replace \(path): \(e)"
        }
        return nil
    }
}
