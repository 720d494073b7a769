import CSystem
import Foundation
import Glibc
import XCTest

private final class InsideResult<T>: @unchecked Sendable {
    var value: T?
    var entered = false
}

/// Runs `body` on a new thread moved into the namespace named `namespace` (setns moves
/// only the calling thread) and returns its result; nil, and a test failure, when the
/// thread could not enter: it never falls back to running on the host. In-process code
/// that opens sockets (libnftables, the resolver) then talks only to that namespace.
func inside<T>(namespace: String, _ body: @escaping @Sendable () -> T) -> T? {
    let box = InsideResult<T>()
    let done = DispatchSemaphore(value: 0)
    let path = "/run/netns/\(namespace)"
    let thread = Thread {
        defer { done.signal() }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard gatepeer_enter_network_namespace(fd) == 0 else { return }
        box.entered = true
        box.value = body()
    }
    thread.start()
    done.wait()
    XCTAssertTrue(box.entered, "could not enter \(path)")
    return box.value
}

/// `inside(namespace:)` for a test's own `Namespace`.
func inside<T>(_ ns: Namespace, _ body: @escaping @Sendable () -> T) -> T? {
    inside(namespace: ns.name, body)
}
