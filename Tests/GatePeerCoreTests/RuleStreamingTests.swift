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
/// test binary, running this test with GATEPEER_STREAMING_CHILD set), whose peak
/// resident size the kernel reports at wait4: a fresh process per case, so nothing
/// the other tests allocated counts.
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
            // The child: decode, check, leave without XCTest's summary.
            let bytes = Self.policy(proto: proto)
            let ok = bytes.withUnsafeBufferPointer { b -> Bool in
                guard case .success(let c) = ConfigDecoder.decode(bytes: b) else { return false }
                return c.filter?.outbound.first?.rules.count == Self.rules
                    && c.filter?.outbound.first?.rules.first?.protocolMatch == .number(6)
            }
            _exit(ok ? 0 : 3)
        }
        let plain = try peakKiB(child: #""tcp""#)
        let kept = try peakKiB(child: "6")
        // Each kept rule costs a JSON object (members array, keys, values): well over 50 bytes.
        let saved = kept - plain
        XCTAssertGreaterThan(saved, Self.rules * 50 / 1024,
                             "peak \(plain) KiB with plain rules, \(kept) KiB with rules kept as JSON values: plain rules are not streamed")
    }

    /// Runs this test in a child with GATEPEER_STREAMING_CHILD=`proto`; its peak resident
    /// size in KiB (ru_maxrss). Fails unless the child decoded the policy and exited 0.
    func peakKiB(child proto: String) throws -> Int {
        let exe = try XCTUnwrap(try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        let args = [exe, "GatePeerCoreTests.RuleStreamingTests/testPlainRulesAreNotBuiltAsJSONObjects"]
        var env = ProcessInfo.processInfo.environment
        env[Self.childVariable] = proto
        let envText = env.map { "\($0.key)=\($0.value)" }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var argv = args.map { strdup($0) } + [nil]
        var envp = envText.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, nil, &argv, &envp)
        guard rc == 0 else { throw XCTSkip("cannot start \(exe): errno \(rc)") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { XCTFail("wait4: errno \(errno)"); return 0 }
        }
        let exited = (status & 0x7f) == 0, code = (status >> 8) & 0xff
        XCTAssertTrue(exited && code == 0, "child for protocol \(proto): wait status \(status)")
        return usage.ru_maxrss
    }
}
