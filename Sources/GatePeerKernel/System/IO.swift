import CSystem
import Glibc

/// Reads and writes on a descriptor that handle what a single read(2) or write(2) may
/// do: transfer less than asked (pipes, sockets, signals), fail with EINTR, or, on a
/// non-blocking descriptor, fail with EAGAIN until poll(2) says it is ready. Errors are
/// the call's errno; a `deadline` (Clock.monotonic seconds) that passes is ETIMEDOUT.
public enum IO {
    /// Writes all of `bytes` with write(2). On a non-blocking descriptor waits for room
    /// until `deadline` (nil: no deadline). A socket whose peer is gone raises SIGPIPE
    /// with write(2): use `sendAll` for sockets.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, until deadline: Double? = nil) throws(Errno) {
        let done = try transfer(fd, bytes.count, events: Int16(POLLOUT), until: deadline) { offset in
            write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        }
        if done < bytes.count { throw .ioError }  // write(2) returned 0 for a nonzero count
    }

    /// `writeAll` for an array.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], until deadline: Double? = nil) throws(Errno) {
        let failure = bytes.withUnsafeBytes { b -> Errno? in
            do throws(Errno) { try writeAll(fd, b, until: deadline) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// `writeAll` for a socket: send(2) with MSG_NOSIGNAL, so a closed peer is EPIPE, not
    /// a SIGPIPE that ends the process.
    public static func sendAll(_ fd: Int32, _ bytes: [UInt8], until deadline: Double? = nil) throws(Errno) {
        let result = bytes.withUnsafeBytes { b -> Result<Int, Errno> in
            do throws(Errno) {
                return .success(try transfer(fd, b.count, events: Int16(POLLOUT), until: deadline) { offset in
                    send(fd, b.baseAddress! + offset, b.count - offset, Int32(MSG_NOSIGNAL))
                })
            } catch { return .failure(error) }
        }
        if try result.get() < bytes.count { throw .ioError }
    }

    /// One read(2) of at most `count` bytes: what is there now (a datagram, part of a
    /// stream), waiting until `deadline` on a non-blocking descriptor. Empty at end of
    /// file (or for an empty datagram).
    public static func read(_ fd: Int32, upTo count: Int, until deadline: Double? = nil) throws(Errno) -> [UInt8] {
        var failure: Errno?
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, filled in
            do throws(Errno) {
                filled = try transfer(fd, count, events: Int16(POLLIN), until: deadline, once: true) { _ in
                    Glibc.read(fd, buffer.baseAddress!, count)
                }
            } catch {
                filled = 0
                failure = error
            }
        }
        if let failure { throw failure }
        return out
    }

    /// Fills `buffer` from `fd`; the number of bytes read, fewer than `buffer.count` only
    /// at end of file.
    public static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, until deadline: Double? = nil) throws(Errno) -> Int {
        try transfer(fd, buffer.count, events: Int16(POLLIN), until: deadline) { offset in
            Glibc.read(fd, buffer.baseAddress! + offset, buffer.count - offset)
        }
    }

    /// Exactly `count` bytes, or fewer when the file ends (the peer closed) first.
    public static func read(_ fd: Int32, exactly count: Int, until deadline: Double? = nil) throws(Errno) -> [UInt8] {
        var failure: Errno?
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, filled in
            do throws(Errno) { filled = try readFully(fd, into: UnsafeMutableRawBufferPointer(buffer), until: deadline) } catch {
                filled = 0
                failure = error
            }
        }
        if let failure { throw failure }
        return out
    }

    /// Everything up to end of file, for files whose size is not known in advance (/proc
    /// files report 0, pipes have none). More than `limit` bytes is EFBIG.
    public static func readAll(_ fd: Int32, limit: Int, until deadline: Double? = nil) throws(Errno) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let piece = try read(fd, upTo: min(65536, limit - out.count + 1), until: deadline)
            if piece.isEmpty { return out }
            out += piece
            if out.count > limit { throw Errno(rawValue: EFBIG) }
        }
    }

    /// The one transfer loop: `step(offset)` makes one call for the bytes from `offset`
    /// on and returns its result; repeated until `total` bytes moved or it returns 0 (end
    /// of file), or after the first call that moved any when `once`. EINTR is retried,
    /// EAGAIN waits for `events`. The bytes moved.
    private static func transfer(_ fd: Int32, _ total: Int, events: Int16, until deadline: Double?, once: Bool = false,
                                 _ step: (Int) -> Int) throws(Errno) -> Int {
        var done = 0
        while done < total {
            let n = retryingInterrupts { step(done) }
            if n > 0 { done += n; if once { break }; continue }
            if n == 0 { break }
            let e = Errno.current
            guard e == .wouldBlock else { throw e }
            guard try Poll.wait(fd, for: events, until: deadline) else { throw .timedOut }
        }
        return done
    }
}
