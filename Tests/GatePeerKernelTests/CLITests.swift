import Foundation
import XCTest

/// The command-line contract: help everywhere, exit 2 for usage errors, data on stdout.
/// Needs the built binary but no privileges and no kernel access.
final class CLITests: XCTestCase {
    func gatepeer(_ args: String...) -> Run { sh([gatepeerBinary] + args) }

    func testHelpEverywhere() {
        for args in [["--help"], ["-h"], ["help"], ["help", "apply"]] {
            let r = sh([gatepeerBinary] + args)
            XCTAssertEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stdout.contains("usage: gatepeer"), "\(args): \(r.stdout)")
        }
        for verb in ["validate", "plan", "apply", "status", "down"] {
            let r = gatepeer(verb, "--help")
            XCTAssertEqual(r.status, 0, verb)
            XCTAssertTrue(r.stdout.hasPrefix("usage: gatepeer \(verb)"), "\(verb): \(r.stdout)")
        }
    }

    func testUsageErrorsExitTwo() {
        let cases: [([String], String)] = [
            ([], "no command given"),
            (["frobnicate"], "unknown command \"frobnicate\""),
            (["plan", "--bogus"], "unknown option \"--bogus\" for plan"),
            (["plan", "-c"], "-c needs a file name"),
            (["validate", "--json"], "validate has no --json output"),
        ]
        for (args, message) in cases {
            let r = sh([gatepeerBinary] + args)
            XCTAssertEqual(r.status, 2, "\(args)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(args)")
        }
    }

    func testMissingConfigFileExitsTwo() {
        let r = gatepeer("validate", "-c", "/nonexistent/gatepeer.json")
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("cannot read config /nonexistent/gatepeer.json"), r.stderr)
    }

    func testShippedConfigsValidate() {
        for name in ["netconfig/lab.json", "netconfig/gatepeer.example.json"] {
            let r = gatepeer("validate", "-c", packageRoot.appendingPathComponent(name).path)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
        }
    }
}
