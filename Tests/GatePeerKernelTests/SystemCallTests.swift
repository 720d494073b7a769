import Foundation
import GatePeerKernel
import Glibc
import XCTest

/// The system-call layer (GatePeerKernel/System): EINTR retried, short reads and writes
/// completed, wait statuses decoded, errnos named. Root-free and network-free: pipes,
/// /proc and `sh` only.
final class SystemCallTests: XCTestCase {
    private func pipePair(nonBlocking: Bool = false) throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0, "pipe: \(Errno.current)")
        if nonBlocking {
            for fd in fds { XCTAssertEqual(fcntl(fd, F_SETFL, O_NONBLOCK), 0) }
        }
        return (fds[0], fds[1])
    }

    /// 1 MiB through a 64 KiB pipe, the reader taking 7 bytes at a time: every write is
    /// short or blocks, and all bytes must arrive in order.
    private func writeAllThroughPipe(nonBlocking: Bool) throws {
        let (r, w) = try pipePair(nonBlocking: nonBlocking)
        defer { close(r) }
        let sent = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        final class Box: @unchecked Sendable { var error: Errno?; var done = false }
        let box = Box()
        let writer = Thread {
            do { try IO.writeAll(w, sent, until: nonBlocking ? Clock.monotonic() + 600 : nil) } catch { box.error = error as? Errno ?? .invalidArgument }
            close(w)
            box.done = true
        }
        writer.start()
        var received: [UInt8] = []
        received.reserveCapacity(sent.count)
        // The reader blocks even when the writer does not: take the blocking flag off.
        if nonBlocking { _ = fcntl(r, F_SETFL, 0) }
        while true {
            let piece = try IO.read(r, upTo: 7)
            if piece.isEmpty { break }
            XCTAssertLessThanOrEqual(piece.count, 7)
            received += piece
        }
        XCTAssertTrue(box.done)
        XCTAssertNil(box.error)
        XCTAssertEqual(received.count, sent.count)
        XCTAssertTrue(received == sent, "bytes differ or are out of order")
    }

    func testWriteAllCompletesShortWritesOnBlockingPipe() throws {
        try writeAllThroughPipe(nonBlocking: false)
    }

    func testWriteAllWaitsForRoomOnNonBlockingPipe() throws {
        try writeAllThroughPipe(nonBlocking: true)
    }

    /// A deadline that has passed on a full non-blocking pipe is ETIMEDOUT, not a hang
    /// and not a short write reported as success.
    func testWriteAllPastDeadlineIsTimedOut() throws {
        let (r, w) = try pipePair(nonBlocking: true)
        defer { close(r); close(w) }
        let big = [UInt8](repeating: 1, count: 1 << 20)  // more than the pipe holds
        XCTAssertThrowsError(try IO.writeAll(w, big, until: Clock.monotonic() - 1)) { error in
            XCTAssertEqual(error as? Errno, .timedOut)
        }
    }

    /// read(exactly:) collects pieces written separately and stops short only at end of file.
    func testReadExactlyAcrossPiecesAndAtEndOfFile() throws {
        let (r, w) = try pipePair()
        defer { close(r) }
        try IO.writeAll(w, [1, 2, 3])
        try IO.writeAll(w, [4, 5])
        XCTAssertEqual(try IO.read(r, exactly: 4), [1, 2, 3, 4])
        close(w)
        XCTAssertEqual(try IO.read(r, exactly: 4), [5], "end of file: the bytes there were")
        XCTAssertEqual(try IO.read(r, upTo: 10), [], "end of file: empty")
    }

    /// A signal without SA_RESTART interrupts a blocking read(2) with EINTR;
    /// retryingInterrupts repeats the call and the byte written afterwards is returned.
    /// The signal is sent again until the read has seen EINTR at least once, so the test
    /// proves the retry rather than hoping for it.
    func testRetryingInterruptsRepeatsReadAfterSignal() throws {
        let (r, w) = try pipePair()
        defer { close(r); close(w) }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: the read must see EINTR
        var old = sigaction()
        XCTAssertEqual(sigaction(SIGUSR1, &action, &old), 0)
        defer { sigaction(SIGUSR1, &old, nil) }

        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var thread: pthread_t?
            var interrupts = 0
            var result: Int = 0
            var byte: UInt8 = 0
            var finished = false
        }
        let box = Box()
        let reader = Thread {
            box.lock.withLock { box.thread = pthread_self() }
            var byte: UInt8 = 0
            let n = retryingInterrupts { () -> Int in
                let n = read(r, &byte, 1)
                if n == -1 && Errno.current == .interrupted { box.lock.withLock { box.interrupts += 1 } }
                return n
            }
            box.lock.withLock { box.result = n; box.byte = byte; box.finished = true }
        }
        reader.start()
        while box.lock.withLock({ box.interrupts == 0 }) {
            if let t = box.lock.withLock({ box.thread }) { pthread_kill(t, SIGUSR1) }
            usleep(1000)
        }
        XCTAssertFalse(box.lock.withLock { box.finished }, "an interrupted read must be retried, not returned")
        XCTAssertEqual(write(w, [0x2a], 1), 1)
        while !box.lock.withLock({ box.finished }) { usleep(1000) }
        XCTAssertEqual(box.result, 1)
        XCTAssertEqual(box.byte, 0x2a)
    }

    /// WEXITSTATUS / WTERMSIG through the C shim, for a real child.
    func testExitStatusOfChild() throws {
        let exited = try Child.run("sh", ["-c", "exit 3"])
        XCTAssertEqual(exited.exitCode, 3)
        XCTAssertNil(exited.signal)
        XCTAssertEqual(exited.shellCode, 3)
        XCTAssertEqual(exited.description, "exited with status 3")

        let killed = try Child.run("sh", ["-c", "kill -9 $$"])
        XCTAssertNil(killed.exitCode)
        XCTAssertEqual(killed.signal, SIGKILL)
        XCTAssertEqual(killed.shellCode, 137)

        XCTAssertThrowsError(try Child.spawn("gatepeer-no-such-program", [])) { error in
            XCTAssertEqual((error as? SystemError)?.errno, .noSuchFile)
        }
    }

    /// Errno names the common errnos and keeps strerror's text; SystemError says which
    /// call failed on what.
    func testErrnoAndSystemErrorText() {
        XCTAssertEqual(Errno.noSuchFile.description, "No such file or directory (ENOENT)")
        XCTAssertEqual(Errno.wouldBlock.name, "EAGAIN")
        XCTAssertEqual(Errno(rawValue: 4095).description, "Unknown error 4095 (errno 4095)")
        XCTAssertEqual(SystemError("open", "/etc/gatepeer/x.json", .permissionDenied).description,
                       "/etc/gatepeer/x.json: open: Permission denied (EACCES)")
    }

    /// /proc files report size 0; Files.read reads them to the end (it returned nothing).
    func testFilesReadsProcFileOfSizeZero() throws {
        XCTAssertEqual(Files.size("/proc/self/status"), 0)
        let bytes = try Files.read("/proc/self/status", limit: Files.stateLimit).get()
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).contains("Pid:\t\(getpid())"))
        XCTAssertThrowsError(try Files.read("/proc/self/status", limit: 16).get()) { error in
            XCTAssertTrue("\(error)".contains("limit of 16 bytes"), "\(error)")
        }
    }

    /// Files.replace then Files.read round-trips, and the temporary is gone.
    func testFilesReplaceRoundTrip() throws {
        let dir = NSTemporaryDirectory() + "gpt-sys-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        XCTAssertEqual(mkdir(dir, 0o700), 0)
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
        XCTAssertNil(Files.replace(dir + "/f", with: bytes, mode: 0o600))
        XCTAssertEqual(try Files.read(dir + "/f", limit: Files.stateLimit).get(), bytes)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["f"])
        let missing = Files.read(dir + "/none", limit: 10)
        guard case .failure(let e) = missing else { return XCTFail("read a missing file") }
        XCTAssertTrue(e.missing)
    }

    /// The resolver's failures are its own error, named for what happened: no answer
    /// is not a kernel refusal with ETIMEDOUT (it was a KernelError). No packets are
    /// sent: no servers, and a name that is refused before any query.
    func testResolverFailuresAreResolverErrors() {
        XCTAssertThrowsError(try DNSResolver(servers: []).resolve("example.com", type: .a)) { error in
            XCTAssertFalse(error is KernelError, "\(error)")
            XCTAssertEqual((error as? DNSResolverError)?.reason, .noAnswer, "\(error)")
            XCTAssertEqual("\(error)", "resolve example.com: no answer from (no servers)")
        }
        XCTAssertThrowsError(try DNSResolver(servers: []).resolve("bad..name", type: .a)) { error in
            XCTAssertFalse(error is KernelError, "\(error)")
            XCTAssertEqual((error as? DNSResolverError)?.reason, .invalidName, "\(error)")
        }
    }
}

/// The Foundation-free replacements in the System layer (foundation.md): directory
/// listing, mkdir -p, threads, lock, trimming, environment, clock.
final class FoundationReplacementTests: XCTestCase {
    func testEntriesAndMakeDirectoriesAgreeWithFileManager() throws {
        let dir = NSTemporaryDirectory() + "gpt-sys-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        try Files.makeDirectories(dir + "/a/b", mode: 0o700)
        try Files.makeDirectories(dir + "/a/b", mode: 0o700)  // again: already there
        XCTAssertNil(Files.replace(dir + "/a/f", with: [1], mode: 0o600))
        XCTAssertEqual(try Files.entries(dir + "/a").sorted(), ["b", "f"])
        XCTAssertEqual(try Files.entries(dir + "/a").sorted(), try FileManager.default.contentsOfDirectory(atPath: dir + "/a").sorted())
        var st = stat()
        XCTAssertEqual(stat(dir + "/a/b", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o700)
        XCTAssertThrowsError(try Files.makeDirectories(dir + "/a/f/g", mode: 0o700)) { error in
            XCTAssertEqual((error as? SystemError)?.object, dir + "/a/f")
            XCTAssertEqual((error as? SystemError)?.errno, .notDirectory)
        }
        XCTAssertThrowsError(try Files.entries(dir + "/none")) { error in
            XCTAssertEqual((error as? SystemError)?.errno, .noSuchFile)
        }
    }

    func testThreadsLockTrimEnvironmentClock() throws {
        let lock = Lock()
        final class Count: @unchecked Sendable { var n = 0 }
        let count = Count()
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<8 {
            try Threads.detach(name: "gatepeer-test-thread") {
                for _ in 0..<10_000 { lock.withLock { count.n += 1 } }
                done.signal()
            }
        }
        for _ in 0..<8 { done.wait() }
        XCTAssertEqual(lock.withLock { count.n }, 80_000)

        XCTAssertEqual(" \t pid 42 (apply)\n".trimmingWhitespace(), "pid 42 (apply)")
        XCTAssertEqual(" \n ".trimmingWhitespace(), "")
        XCTAssertEqual(Environment.get("PATH"), ProcessInfo.processInfo.environment["PATH"])
        XCTAssertNil(Environment.get("GATEPEER_SURELY_UNSET_\(getpid())"))
        XCTAssertEqual(Clock.now(), Date().timeIntervalSince1970, accuracy: 60)
    }
}
