import Glibc

/// Whole-file reads and atomic replacements on Glibc (no Foundation): bounded reads that
/// refuse FIFOs and devices, writes through a 0600 temporary renamed over the target.
public enum Files {
    /// The file's size in bytes, nil when it cannot be read.
    public static func size(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    /// The largest config read (bytes). The largest real config, scripts/bench's policy of
    /// 100,000 deny rules, is 9.9 MB as jq prints it (rules are streamed, so it costs
    /// little memory). The worst a file at the limit can cost is a long array of `{}`:
    /// 24 bytes of tree and five problems per 3 bytes of input: 366 MB max RSS and 28
    /// million problems counted at 16 MiB (800 MB at 32 MiB, which aborted under a 1 GiB
    /// limit); a daemon reloading such a file must survive it.
    public static let configLimit = 16 << 20
    /// The largest state file read (grants.json, learned.json, identity.json, the filter
    /// caches). The JSON ones are parsed like a config; the caches of the 100,000-rule
    /// policy take a few MB, and one over the limit only costs a full read or load.
    public static let stateLimit = 16 << 20
    /// The largest pre-shared key file read; a key is at most a few hundred bytes.
    public static let keyLimit = 64 << 10

    /// Why a file was not read. `missing`: it does not exist (ENOENT), which callers of
    /// optional files treat as empty rather than as a fault.
    public struct ReadError: Error, Sendable, CustomStringConvertible {
        /// The path as given (not resolved through symlinks).
        public let path: String
        /// What is wrong, e.g. "is a FIFO, not a regular file" or strerror's text.
        public let reason: String
        /// open(2) answered ENOENT.
        public let missing: Bool
        /// "PATH: REASON".
        public var description: String { "\(path): \(reason)" }
    }

    /// The whole file, read straight into one array (no Data, no String copy, no zeroing
    /// pass first), if it is a regular file of at most `limit` bytes.
    ///
    /// Opened with O_NONBLOCK so that a FIFO (or a device) at the path cannot block the
    /// open; fstat on the open descriptor then refuses anything but a regular file, so
    /// what is checked is what is read. Symlinks are followed: configs and key files are
    /// commonly symlinked (/etc/gatepeer -> a deployment's copy), and every file read
    /// here is one the operator names or root's own state directory.
    public static func read(_ path: String, limit: Int) -> Result<[UInt8], ReadError> {
        func failure(_ reason: String, missing: Bool = false) -> Result<[UInt8], ReadError> {
            .failure(ReadError(path: path, reason: reason, missing: missing))
        }
        let fd = retryingInterrupts { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        guard fd >= 0 else {
            let e = Errno.current
            return failure(e.message, missing: e == .noSuchFile)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return failure(Errno.current.message) }
        let kind = st.st_mode & S_IFMT
        guard kind == S_IFREG else {
            let name: String
            switch kind {
            case S_IFDIR: name = "a directory"
            case S_IFIFO: name = "a FIFO"
            case S_IFCHR: name = "a character device"
            case S_IFBLK: name = "a block device"
            case S_IFSOCK: name = "a socket"
            default: name = "not a file"
            }
            return failure("is \(name), not a regular file")
        }
        guard Int(st.st_size) <= limit else {
            return failure("is \(st.st_size) bytes; the limit is \(sizeText(limit)) (\(limit) bytes)")
        }
        do throws(Errno) {
            // Files of /proc and /sys report size 0 but have contents: read those to the end.
            if st.st_size == 0 { return .success(try IO.readAll(fd, limit: limit)) }
            var failed: Errno?
            let out = [UInt8](unsafeUninitializedCapacity: Int(st.st_size)) { buffer, count in
                // Fewer bytes than stat said: the file shrank while being read.
                do throws(Errno) { count = try IO.readFully(fd, into: UnsafeMutableRawBufferPointer(buffer)) } catch {
                    count = 0
                    failed = error
                }
            }
            if let failed { throw failed }
            return .success(out)
        } catch {
            return failure(error == Errno(rawValue: EFBIG) ? "is more than the limit of \(sizeText(limit)) (\(limit) bytes)" : error.message)
        }
    }

    /// `read` for callers that only need the bytes: nil when the file is missing,
    /// refused or unreadable.
    public static func readAll(_ path: String, limit: Int = stateLimit) -> [UInt8]? {
        try? read(path, limit: limit).get()
    }

    /// Why a file of `bytes` must not be written to `path`: its reader's `limit` would refuse
    /// it; nil when it fits.
    public static func tooLarge(_ path: String, bytes: Int, limit: Int) -> String? {
        bytes <= limit ? nil : "not written: \(path) would be \(bytes) bytes; the limit is \(sizeText(limit)) (\(limit) bytes), which reading it enforces"
    }

    /// "32 MiB", "64 KiB": a limit as people state it.
    static func sizeText(_ bytes: Int) -> String {
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }

    /// Replaces `path` with `bytes`: written to a temporary next to it, created with
    /// `mode` from the start (never wider, whatever the umask), then renamed over, so a
    /// reader never sees half a file. `sync`: fsync before the rename, so a crash leaves
    /// the old file or the new one. `limit`: the size its reader accepts (bytes); a larger
    /// file is not written (`tooLarge`), since every later read would refuse it. nil on
    /// success, else what went wrong.
    public static func replace(_ path: String, with bytes: [UInt8], mode: mode_t, sync: Bool = true, limit: Int? = nil) -> String? {
        if let limit, let why = tooLarge(path, bytes: bytes.count, limit: limit) { return why }
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let tmp = String(path[..<slash]) + "." + String(path[slash...]) + ".tmp.\(getpid())"
        unlink(tmp)  // a leftover of a crashed run with this pid
        let fd = retryingInterrupts { open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) }
        guard fd >= 0 else { return "cannot write \(tmp): \(Errno.current.message)" }
        fchmod(fd, mode)  // the umask may have narrowed it
        var failure: Errno?
        do throws(Errno) {
            try IO.writeAll(fd, bytes)
            if sync { _ = try valueOrErrno { fsync(fd) } }
        } catch { failure = error }
        close(fd)
        if failure == nil, rename(tmp, path) != 0 { failure = .current }
        if let failure {
            unlink(tmp)
            return "cannot replace \(path): \(failure.message)"
        }
        return nil
    }

    /// The names in directory `path`, without "." and "..", in the order readdir(3) gives
    /// (unsorted). Replaces FileManager.contentsOfDirectory. Throws opendir's error.
    public static func entries(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError("opendir", path, .current) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Makes directory `path` and any missing parents with `mode` (mkdir -p -m; the
    /// umask may narrow it, as with mkdir(2)). Existing directories are left as they are.
    /// Replaces FileManager.createDirectory(withIntermediateDirectories:). Throws mkdir's
    /// error naming the component that failed.
    public static func makeDirectories(_ path: String, mode: mode_t) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, mode) != 0 {
                let e = Errno.current
                var st = stat()
                guard e == .exists, stat(prefix, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
                    throw SystemError("mkdir", prefix, e == .exists ? .notDirectory : e)
                }
            }
            prefix += "/"
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace (Character.isWhitespace: spaces,
    /// tabs, newlines). Replaces Foundation's trimmingCharacters(in: .whitespacesAndNewlines)
    /// for the short lines gatepeer reads from /proc and its lock files.
    public func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
