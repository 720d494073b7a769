import Foundation
import XCTest
import Glibc

/// Result of running a command.
struct Run {
    let status: Int32
    let stdout: String
    let stderr: String
}

@discardableResult
func sh(_ args: [String], stdin: String? = nil) -> Run {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    if let stdin {
        let inp = Pipe()
        p.standardInput = inp
        inp.fileHandleForWriting.write(stdin.data(using: .utf8)!)
        inp.fileHandleForWriting.closeFile()
    } else {
        p.standardInput = FileHandle.nullDevice
    }
    do { try p.run() } catch { return Run(status: 127, stdout: "", stderr: "\(error)") }
    // Read both pipes before waiting so a chatty command cannot block on a full pipe.
    final class Box: @unchecked Sendable { var data = Data() }
    let o = Box()
    let g = DispatchGroup()
    g.enter()
    DispatchQueue.global().async { o.data = out.fileHandleForReading.readDataToEndOfFile(); g.leave() }
    let e = err.fileHandleForReading.readDataToEndOfFile()
    g.wait()
    p.waitUntilExit()
    return Run(status: p.terminationStatus, stdout: String(decoding: o.data, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// Runs `action` while tcpdump listens on eth0 of `namespace` for `count` packets that
/// match `filter`; returns what it printed (verbose, so TCP options such as MSS show).
func tcpdump(namespace: String, count: Int, filter: String, _ action: () -> Void) -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["ip", "netns", "exec", namespace, "tcpdump", "-lnni", "eth0", "-c", "\(count)", "-v", filter]
    let out = Pipe()
    p.standardOutput = out
    // tcpdump says "listening on" once its capture is open: wait for that (up to 10 s on
    // a slow VM) instead of a fixed sleep that can miss the one packet a test sends.
    let errPath = NSTemporaryDirectory() + "gatepeer-tcpdump-\(UUID().uuidString).err"
    FileManager.default.createFile(atPath: errPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: errPath) }
    p.standardError = FileHandle(forWritingAtPath: errPath)
    try? p.run()
    let ready = Date().addingTimeInterval(10)
    while p.isRunning && Date() < ready,
          !((try? String(contentsOfFile: errPath, encoding: .utf8))?.contains("listening on") ?? false) {
        Thread.sleep(forTimeInterval: 0.05)
    }
    action()
    let deadline = Date().addingTimeInterval(5)
    while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
    if p.isRunning { p.terminate() }
    return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
}

/// Polls `condition` every 0.2 s for up to `seconds`; true once it holds. Tests wait
/// for a state this way instead of sleeping a fixed time; the bound only keeps a broken
/// build from hanging a test, it is no timing assertion.
func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.2)
    }
    return condition()
}

/// The package root, from this file's path (Tests/GatePeerKernelTests/Namespace.swift).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The gatepeer binary under test: $GATEPEER_BIN (scripts/test sets it) or the debug build.
let gatepeerBinary: String = ProcessInfo.processInfo.environment["GATEPEER_BIN"]
    ?? packageRoot.appendingPathComponent(".build/debug/gatepeer").path

/// Records a namespace's exact name in $GATEPEER_NS_REGISTRY (scripts/test sets it)
/// before it is made, so a run that dies halfway deletes exactly what it made and never
/// matches other people's namespaces by a pattern (scripts/lib/netns.sh reads it).
/// Outside scripts/test (a `swift test` run on its own) the registry is
/// /run/gatepeer-test/netns.list. Each line is "NAME PID", PID being the test process's,
/// so a later run can delete what a killed run left (`sweepOrphanNamespaces`).
func registerNamespace(_ name: String) {
    withRegistry { fd in
        let line = Array("\(name) \(getpid())\n".utf8)
        _ = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}

let namespaceRegistry = ProcessInfo.processInfo.environment["GATEPEER_NS_REGISTRY"] ?? "/run/gatepeer-test/netns.list"

/// Runs `body` with the registry open for appending, under an exclusive flock (test
/// processes may run side by side).
func withRegistry(_ body: (Int32) -> Void) {
    if ProcessInfo.processInfo.environment["GATEPEER_NS_REGISTRY"] == nil { mkdir("/run/gatepeer-test", 0o700) }
    let fd = open(namespaceRegistry, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return }
    defer { close(fd) }
    flock(fd, LOCK_EX)
    body(fd)
}

/// Once per test process: deletes, by their exact names, the namespaces that test
/// processes no longer alive recorded (killed before tearDown ran), and drops their
/// lines. Lines without a PID (scripts: their namespaces outlive the script that made
/// them) and those of live processes stay.
let sweepOrphanNamespaces: Void = withRegistry { fd in
    let text = (try? String(contentsOfFile: namespaceRegistry, encoding: .utf8)) ?? ""
    var keep = ""
    for line in text.split(separator: "\n") {
        let f = line.split(separator: " ")
        if f.count == 2, let pid = Int32(f[1]), kill(pid, 0) != 0, errno == ESRCH {
            let name = String(f[0])
            if FileManager.default.fileExists(atPath: "/run/netns/" + name) {
                let pids = sh(["ip", "netns", "pids", name]).stdout.split(separator: "\n").compactMap { Int32($0) }
                for p in pids { kill(p, SIGKILL) }
                sh(["ip", "netns", "del", name])
            }
            continue
        }
        keep += line + "\n"
    }
    _ = ftruncate(fd, 0)
    let bytes = Array(keep.utf8)
    _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
}

/// A network namespace made for one test and deleted afterwards, also when it fails.
/// Its name (gpt-TAG-RANDOM) is registered first (registerNamespace).
final class Namespace {
    let name: String

    init(_ tag: String) throws {
        name = "gpt-\(tag)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        registerNamespace(name)
        let r = sh(["ip", "netns", "add", name])
        guard r.status == 0 else { throw XCTSkip("cannot create network namespace: \(r.stderr)") }
        ip("link", "set", "lo", "up")
        // No duplicate address detection: link-local addresses would otherwise change
        // state (tentative -> valid) while a test compares snapshots.
        exec(["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"])
        // A new namespace copies the host's IPv4 settings (net.core.devconf_inherit_init_net=0,
        // Documentation/networking/ip-sysctl.rst), so forwarding starts as whatever the host
        // has at the moment; tests that assert gatepeer turns it on start from off.
        exec(["sysctl", "-qw", "net.ipv4.ip_forward=0"])
    }

    func destroy() { sh(["ip", "netns", "del", name]) }

    /// Runs a command inside the namespace.
    @discardableResult
    func exec(_ args: [String], stdin: String? = nil) -> Run { sh(["ip", "netns", "exec", name] + args, stdin: stdin) }

    /// `ip -n NS ARGS`; fails the test on error.
    @discardableResult
    func ip(_ args: String..., file: StaticString = #filePath, line: UInt = #line) -> String {
        let r = sh(["ip", "-n", name] + args)
        XCTAssertEqual(r.status, 0, "ip \(args.joined(separator: " ")): \(r.stderr)", file: file, line: line)
        return r.stdout
    }

    func bridge(_ args: String...) -> String { sh(["bridge", "-n", name] + args).stdout }

    func gatepeer(_ args: String...) -> Run { exec([gatepeerBinary] + args) }

    func sysctl(_ key: String) -> String {
        exec(["sysctl", "-n", key]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: reading kernel state back as JSON

    func json(_ text: String) -> [[String: Any]] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return [] }
        return (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [[String: Any]] ?? []
    }

    func links() -> [[String: Any]] { json(ip("-j", "-d", "link", "show")) }
    func link(_ dev: String) -> [String: Any]? { links().first { $0["ifname"] as? String == dev } }
    func fdb(_ dev: String) -> [[String: Any]] { json(bridge("-j", "fdb", "show", "dev", dev)) }
    func routes(_ extra: String...) -> [[String: Any]] {
        json(sh(["ip", "-n", name, "-j", "route", "show"] + extra).stdout)
            + json(sh(["ip", "-n", name, "-6", "-j", "route", "show"] + extra).stdout)
    }
    func addresses(_ dev: String) -> [String] {
        json(ip("-j", "addr", "show", "dev", dev)).flatMap { ($0["addr_info"] as? [[String: Any]]) ?? [] }
            .filter { ($0["scope"] as? String) != "link" }
            .map { "\($0["local"]!)/\($0["prefixlen"]!)" }
    }

    /// Everything a test may compare before and after: links, addresses, routes, FDB.
    func snapshot() -> String {
        let l = sh(["ip", "-n", name, "-d", "link", "show"]).stdout  // no counters in this form: stable
        let a = sh(["ip", "-n", name, "addr", "show"]).stdout
            .split(separator: "\n").filter { !$0.contains("valid_lft") }.joined(separator: "\n")
            .replacingOccurrences(of: " tentative", with: "")
        let r = sh(["ip", "-n", name, "route", "show", "table", "all"]).stdout
        let f = sh(["bridge", "-n", name, "fdb", "show"]).stdout
        return [l, a, r, f].joined(separator: "\n----\n")
    }
}

/// Base class: every kernel test runs as root in namespaces it made itself.
class KernelTestCase: XCTestCase {
    private var namespaces: [Namespace] = []
    private var tempFiles: [URL] = []

    override func setUpWithError() throws {
        guard geteuid() == 0 else {
            if ProcessInfo.processInfo.environment["GATEPEER_REQUIRE_KERNEL_TESTS"] == "1" {
                XCTFail("kernel tests need root and GATEPEER_REQUIRE_KERNEL_TESTS=1 forbids skipping them")
            }
            throw XCTSkip("kernel tests need root")
        }
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: gatepeerBinary), "no binary at \(gatepeerBinary): run swift build")
        _ = sweepOrphanNamespaces
        // gatepeer keeps state (grants, the filter map cache) here; never the host's /var/lib.
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-test-state-\(UUID().uuidString.prefix(8))")
        setenv("GATEPEER_STATE_DIR", state.path, 1)
        tempFiles.append(state)
    }

    override func tearDown() {
        for ns in namespaces { ns.destroy() }
        namespaces.removeAll()
        for f in tempFiles { try? FileManager.default.removeItem(at: f) }
        super.tearDown()
    }

    func makeNamespace(_ tag: String) throws -> Namespace {
        let ns = try Namespace(tag)
        namespaces.append(ns)
        return ns
    }

    /// A namespace shaped like the peer VM: eth0 (172.31.0.254/24, up) with a veth peer.
    func makePeerNamespace() throws -> Namespace {
        let ns = try makeNamespace("peer")
        // No IPv6 duplicate address detection in this namespace: link-local addresses and
        // their local routes exist at once, not a second or two later, so a snapshot taken
        // now does not change under a test that compares it with one taken after.
        for key in ["net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"] {
            XCTAssertEqual(ns.exec(["sysctl", "-qw", "\(key)=0"]).status, 0)
        }
        ns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
        ns.ip("addr", "add", "172.31.0.254/24", "dev", "eth0")
        ns.ip("link", "set", "eth0", "up")
        ns.ip("link", "set", "eth1", "up")
        // Operstate follows through linkwatch, which can lag; wait until it reads up.
        let deadline = Date().addingTimeInterval(5)
        while !ns.ip("-o", "link", "show", "eth0").contains("state UP") && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        return ns
    }

    func writeConfig(_ text: String) -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-test-\(UUID().uuidString).json")
        try! text.write(to: url, atomically: true, encoding: .utf8)
        tempFiles.append(url)
        return url.path
    }
}
