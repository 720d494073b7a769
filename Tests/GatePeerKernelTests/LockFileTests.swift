import Foundation
import XCTest

/// Issue 12 leftover of issue 11: /run/gatepeer kept one writer-lock and one daemon-lock
/// file per network namespace ever used (726 on a test machine), none ever removed.
final class LockFileTests: KernelTestCase {
    /// The inode that keys a namespace's lock files (stat -L of its /run/netns entry).
    func inode(_ ns: Namespace) -> String {
        sh(["stat", "-L", "-c", "%i", "/run/netns/\(ns.name)"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The files in /run/gatepeer keyed by one of `inodes`.
    func lockFiles(_ inodes: Set<String>) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/gatepeer")) ?? []
        return names.filter { n in
            guard n.hasPrefix("netns-") else { return false }
            return inodes.contains(String(n.dropFirst(6).prefix { $0 != "." }))
        }.sorted()
    }

    /// Every command that takes a lock, in each of five namespaces (plan, apply, down,
    /// a grant, and a daemon stopped with SIGTERM): afterwards only the daemon's file of a
    /// namespace that still exists may stay (its process exited without letting go), and
    /// once the namespaces are deleted the next command anywhere removes theirs too. The
    /// kernel state of each command is read back, so the locks were really taken.
    func testCommandsInManyNamespacesLeaveNoLockFilesOfGoneNamespaces() throws {
        let cfg = packageRoot.appendingPathComponent("netconfig/lab-filter.json").path
        var spaces: [Namespace] = []
        for _ in 0..<5 {
            let ns = try makePeerNamespace()
            ns.ip("link", "add", "uplink", "type", "veth", "peer", "name", "uplink1")
            spaces.append(ns)
        }
        let inodes = Set(spaces.map(inode))
        XCTAssertEqual(inodes.count, 5, "five namespaces, five inodes")
        for ns in spaces {
            var r = ns.gatepeer("plan", "-c", cfg)
            XCTAssertEqual(r.status, 0, r.stderr)
            r = ns.gatepeer("apply", "-c", cfg)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertNotNil(ns.link("gp0"), "apply made gp0")
            r = ns.gatepeer("filter", "grant", "--from", "10.128.0.11", "--to", "198.51.100.7", "--proto", "udp", "--for", "1h", "-c", cfg)
            XCTAssertEqual(r.status, 0, r.stderr)
            r = ns.gatepeer("down")
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertNil(ns.link("gp0"), "down removed gp0")

            let log = FileManager.default.temporaryDirectory.appendingPathComponent("gatepeer-lockfiles-\(UUID().uuidString.prefix(8)).log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            addTeardownBlock { try? FileManager.default.removeItem(at: log) }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["nsenter", "--net=/run/netns/\(ns.name)", gatepeerBinary, "run", "-c", cfg, "--resync", "3600"]
            let h = try FileHandle(forWritingTo: log)
            p.standardOutput = h
            p.standardError = h
            try p.run()
            addTeardownBlock { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
            XCTAssertTrue(eventually(30) { ns.link("gp0") != nil }, "the daemon made gp0: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            kill(p.processIdentifier, SIGTERM)
            p.waitUntilExit()
        }
        // The writer locks went with their last holder; a stopped daemon's file may stay
        // while its namespace lives.
        let living = lockFiles(inodes)
        XCTAssertEqual(living.filter { $0.hasSuffix(".lock") }, [], "writer lock files left behind")
        XCTAssertLessThanOrEqual(living.count, spaces.count, "at most one daemon file per namespace: \(living)")

        for ns in spaces { ns.destroy() }
        // Any command in any namespace (a new one, which may reuse one of the inodes)
        // removes what the deleted namespaces left.
        let fresh = try makeNamespace("lockfiles")
        let r = fresh.gatepeer("plan", "-c", cfg)
        XCTAssertTrue(r.stderr.contains("blocked: links[0].underlayDevice"), "the plan ran (its eth0 is missing): \(r.stderr)")
        XCTAssertEqual(lockFiles(inodes.subtracting([inode(fresh)])), [], "lock files of deleted namespaces")
        XCTAssertEqual(lockFiles([inode(fresh)]).filter { $0.hasSuffix(".lock") }, [], "the plan's own lock file went with it")
    }
}
