import CSystem
import Foundation
@testable import GatePeerKernel
import Glibc
import XCTest

/// nft failures carry nft's own message and no errno: libnftables reports text only, and
/// the errno used to be guessed from it (EINVAL for anything but two English phrases).
/// libnftables runs on a thread moved into a namespace this test creates.
final class NftablesErrorTests: XCTestCase {
    /// Runs `body` on a thread inside `ns`; never on the host: a failed setns fails the test.
    private func inside(_ ns: Namespace, _ body: @escaping @Sendable () -> Error?) -> Error? {
        final class Box: @unchecked Sendable { var error: Error?; var entered = false }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let path = "/run/netns/\(ns.name)"
        let thread = Thread {
            defer { done.signal() }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0, gatepeer_enter_network_namespace(fd) == 0 else { return }
            close(fd)
            box.entered = true
            box.error = body()
        }
        thread.start()
        done.wait()
        XCTAssertTrue(box.entered, "could not enter \(path)")
        return box.error
    }

    func testNftRefusalsAreNftablesErrorsWithoutAGuessedErrno() throws {
        let ns = try Namespace("nfterr")
        defer { ns.destroy() }
        // A parser error (the old code called it EINVAL) and a kernel refusal (ENOENT,
        // which nft gives as text only).
        let cases = [("add tabel inet gpt", "syntax error"),
                     ("delete table inet gpt-absent", "No such file or directory")]
        for (command, expected) in cases {
            let error = inside(ns) {
                do { try Nftables().run(command, what: "test transaction", dryRun: command.hasPrefix("add")) } catch { return error }
                return nil
            }
            let nft = try XCTUnwrap(error as? NftablesError, "\(command): \(String(describing: error))")
            XCTAssertTrue(nft.message.contains(expected), nft.message)
            XCTAssertEqual(nft.command, command)
            XCTAssertFalse(nft.description.contains("errno"), nft.description)
            // Joined to apply's failures, it still has no errno.
            XCTAssertNil(KernelError(nft).errno)
            XCTAssertEqual(KernelError(nft).description, "test transaction: " + nft.message)
        }
    }
}
