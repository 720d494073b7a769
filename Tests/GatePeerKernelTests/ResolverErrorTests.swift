import Foundation
import GatePeerCore
import GatePeerKernel
import Glibc
import XCTest

/// DNSResolver's failures against a real server in a namespace this test creates: a
/// server that answers garbage is `.malformedAnswers` (it was KernelError EPROTO), one
/// that is not there is `.noAnswer` (it was KernelError ETIMEDOUT).
final class ResolverErrorTests: XCTestCase {
    func testGarbageAnswersAndNoServerAreResolverErrors() throws {
        let ns = try Namespace("resolv")
        defer { ns.destroy() }
        let ready = DispatchSemaphore(value: 0)
        // A UDP "server" on 127.0.0.1:53 in the namespace that answers one query with 5
        // bytes (shorter than a DNS header), then stops.
        final class Served: @unchecked Sendable { var queries = 0 }
        let served = Served()
        let server = DispatchSemaphore(value: 0)
        let name = ns.name
        Thread {
            _ = inside(namespace: name) { () -> Void in
                let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                defer { close(fd) }
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = in_port_t(53).bigEndian
                addr.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
                let bound = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                ready.signal()
                guard bound == 0, (try? Poll.wait(fd, for: Int16(POLLIN), until: Clock.monotonic() + 60)) == true else { return }
                var from = sockaddr_storage(), len = socklen_t(MemoryLayout<sockaddr_storage>.size)
                var buf = [UInt8](repeating: 0, count: 512)
                let n = withUnsafeMutablePointer(to: &from) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buf, buf.count, 0, $0, &len) }
                }
                guard n > 0 else { return }
                served.queries += 1
                let junk: [UInt8] = [buf[0], buf[1], 0x81, 0x80, 0]
                _ = withUnsafePointer(to: &from) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, junk, junk.count, 0, $0, len) }
                }
            }
            ready.signal()  // also when the thread never entered: the wait below must end
            server.signal()
        }.start()
        ready.wait()

        let local = try XCTUnwrap(IPAddress("127.0.0.1"))
        let garbage = inside(ns) { () -> Error? in
            do { _ = try DNSResolver(servers: [local], timeout: 10, attempts: 1).resolve("example.com", type: .a) } catch { return error }
            return nil
        } ?? nil
        server.wait()
        XCTAssertEqual(served.queries, 1)
        let e = try XCTUnwrap(garbage as? DNSResolverError, String(describing: garbage))
        XCTAssertEqual(e.reason, .malformedAnswers)
        XCTAssertTrue(e.description.hasPrefix("resolve example.com: malformed answers from 127.0.0.1: "), e.description)

        // Nobody on port 53 now: ICMP port unreachable, no answer.
        let silent = inside(ns) { () -> Error? in
            do { _ = try DNSResolver(servers: [local], timeout: 10, attempts: 1).resolve("example.com", type: .a) } catch { return error }
            return nil
        } ?? nil
        let s = try XCTUnwrap(silent as? DNSResolverError, String(describing: silent))
        XCTAssertEqual(s.reason, .noAnswer)
        XCTAssertEqual(s.description, "resolve example.com: no answer from 127.0.0.1")
    }
}
