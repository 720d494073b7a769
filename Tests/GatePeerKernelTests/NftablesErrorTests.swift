import Foundation
@testable import GatePeerKernel
import Glibc
import XCTest

/// nft failures carry nft's own message and no errno: libnftables reports text only, and
/// the errno used to be guessed from it (EINVAL for anything but two English phrases).
/// libnftables runs on a thread moved into a namespace this test creates (`inside`).
final class NftablesErrorTests: XCTestCase {
    func testNftRefusalsAreNftablesErrorsWithoutAGuessedErrno() throws {
        let ns = try Namespace("nfterr")
        defer { ns.destroy() }
        // A parser error (the old code called it EINVAL) and a kernel refusal (ENOENT,
        // which nft gives as text only).
        let cases = [("add tabel inet gpt", "syntax error"),
                     ("delete table inet gpt-absent", "No such file or directory")]
        for (command, expected) in cases {
            let error = inside(ns) { () -> Error? in
                do { try Nftables().run(command, what: "test transaction", dryRun: command.hasPrefix("add")) } catch { return error }
                return nil
            } ?? nil
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
