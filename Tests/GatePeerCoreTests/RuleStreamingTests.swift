import Foundation
import XCTest
@testable import GatePeerCore

/// Rules streamed while parsing (StreamedRules, docs/performance.md): a plain rule is
/// decoded as the parser meets it and never becomes a JSON object. Decoding gives the
/// same config with or without streaming, so what this test can see is the cost: the
/// peak memory of a process that decodes 100,000 plain rules against one that decodes
/// 100,000 rules the streamer must keep as JSON values (`"protocol": 6` is not plain),
/// which decode to the same config. With streaming the plain policy peaks about 17 MB
/// lower; without it the two cost the same. Each decode runs in a child process (this
/// test binary, running this test with GATEPEER_STREAMING_CHILD set), which reports
/// its peak resident size (VmHWM): a fresh process per case, so nothing the other
/// tests allocated counts.
final class RuleStreamingTests: XCTestCase {
    static let rules = 100_000
    static let childVariable = "GATEPEER_STREAMING_CHILD"

    /// The policy: `rules` copies of one deny rule (one prefix, so compiling stays small
    /// next to the tree), the protocol written as `proto`.
    static func policy(proto: String) -> [UInt8] {
        var text = #"{"links": [{"name": "gp0", "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254", "innerIpAddress": "10.255.255.254/9", "#
            + #""peers": [{"outerIpAddress": "100.64.152.4"}]}], "filter": {"uplinkDevice": "uplink", "outbound": [{"name": "a", "default": "allow", "rules": ["#
        let rule = #"{"action": "deny", "destination": "198.51.100.0/24", "protocol": \#(proto)}"#
        text.reserveCapacity(text.utf8.count + rules * (rule.utf8.count + 2) + 8)
        for i in 0..<rules { if i > 0 { text += ",\n" }; text += rule }
        text += "]}]}}"
        return Array(text.utf8)
    }

    func testPlainRulesAreNotBuiltAsJSONObjects() throws {
        if let proto = ProcessInfo.processInfo.environment[Self.childVariable] {
            // The child: decode, check, report its peak resident size, leave without
            // XCTest's summary.
            let bytes = Self.policy(proto: proto)
            let ok: Bool
            if case .success(let c) = ConfigDecoder.decode(bytes: bytes) {
                ok = c.filter?.outbound.first?.rules.count == Self.rules
                    && c.filter?.outbound.first?.rules.first?.protocolMatch == .number(6)
            } else {
                ok = false
            }
            FileHandle.standardOutput.write(Data("\n\(Self.marker)\(Self.ownPeakKiB())\n".utf8))
            _exit(ok ? 0 : 3)
        }
        let plain = try peakKiB(child: #""tcp""#)
        let kept = try peakKiB(child: "6")
        // Each kept rule costs a JSON object (members array, keys, values): well over 50 bytes.
        let saved = kept - plain
        XCTAssertGreaterThan(saved, Self.rules * 50 / 1024,
                             "peak \(plain) KiB with plain rules, \(kept) KiB with rules kept as JSON values: plain rules are not streamed")
    }

    static let marker = "peak KiB: "

    /// This process's own peak resident size in KiB: `VmHWM` of /proc/self/status, the
    /// high-water mark of the address space exec made. Not getrusage's ru_maxrss: Linux
    /// carries the parent's peak into it across fork and execve (exec_mmap records the old
    /// mm's high-water mark in signal->maxrss), so in a large test run both children
    /// reported the test runner's own 150 MB.
    static func ownPeakKiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    /// Runs this test in a child with GATEPEER_STREAMING_CHILD=`proto`; the peak resident
    /// size in KiB (VmHWM) the child reports. Fails unless the child decoded the
    /// policy and exited 0.
    func peakKiB(child proto: String) throws -> Int {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        p.arguments = ["GatePeerCoreTests.RuleStreamingTests/testPlainRulesAreNotBuiltAsJSONObjects"]
        p.environment = ProcessInfo.processInfo.environment.merging([Self.childVariable: proto]) { $1 }
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "child for protocol \(proto): \(text.suffix(500))")
        let line = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix(Self.marker) }, text)
        return try XCTUnwrap(Int(line.dropFirst(Self.marker.count)))
    }
}
