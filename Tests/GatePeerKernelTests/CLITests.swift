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

    func testBadGrantsNameTheOption() {
        let cfg = packageRoot.appendingPathComponent("netconfig/lab-filter.json").path
        let cases: [([String], String)] = [
            (["--to", "203.0.113.10", "--for", "1h"], "--from: is required"),
            (["--from", "10.128.0.1/16", "--to", "203.0.113.10", "--for", "1h"], "--from: 10.128.0.1/16 has host bits set"),
            (["--from", "10.128.0.11", "--to", "203.0.113.10", "--for", "forever"], "--for: \"forever\" is not a duration"),
            (["--from", "10.128.0.11", "--to", "203.0.113.10", "--port", "443", "--for", "1h"], "--port: needs --proto tcp"),
            (["--from", "10.128.0.11", "--to", "203.0.113.10", "--proto", "tcp", "--port", "70000", "--for", "1h"], "--port: \"70000\" is not a port"),
            (["--from", "10.128.0.11", "--to", "2001:db8::1", "--for", "1h"], "of different families"),
            (["--from", "10.128.0.11", "--to", "203.0.113.10", "--proto", "tcp", "--port", "80,80-90", "--for", "1h"], "--port: 80 and 80-90 overlap"),
        ]
        for (args, message) in cases {
            let r = sh([gatepeerBinary, "filter", "grant"] + args + ["-c", cfg])
            XCTAssertEqual(r.status, 2, "\(args)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }

    func testFilterCheckWantsAPortWhereItMatters() {
        let cfg = packageRoot.appendingPathComponent("netconfig/lab-filter.json").path
        let r = sh([gatepeerBinary, "filter", "check", "10.128.0.11", "203.0.113.10", "tcp", "-c", cfg])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("give a port"), r.stderr)
        XCTAssertEqual(sh([gatepeerBinary, "filter", "check", "10.128.0.11", "203.0.113.10", "icmp", "-c", cfg]).status, 0)
        // Issue 10 item 8: a mapped address is IPv4 to the kernel; checking it against the
        // IPv6 policy answered for a packet that never exists.
        let mapped = sh([gatepeerBinary, "filter", "check", "::ffff:10.128.0.11", "203.0.113.10", "icmp", "-c", cfg])
        XCTAssertEqual(mapped.status, 2, mapped.stdout)
        XCTAssertTrue(mapped.stderr.contains("SRC: ::ffff:10.128.0.11 is an IPv4-mapped IPv6 address") && mapped.stderr.contains("write it as IPv4, 10.128.0.11"), mapped.stderr)
    }

    func testMissingConfigFileExitsTwo() {
        let r = gatepeer("validate", "-c", "/nonexistent/gatepeer.json")
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("cannot read config /nonexistent/gatepeer.json"), r.stderr)
    }

    func testShippedConfigsValidate() {
        for name in ["netconfig/lab.json", "netconfig/gatepeer.example.json", "netconfig/lab-filter.json", "netconfig/ipsec-site.json"] {
            let r = gatepeer("validate", "-c", packageRoot.appendingPathComponent(name).path)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
        }
    }
}
