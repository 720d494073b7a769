import XCTest
@testable import GatePeerCore

final class DNSQueryTests: XCTestCase {
    func testParsesAQueryAndBuildsServfail() throws {
        let q = DNSMessage.query(id: 0xbeef, name: "CDN.Example.com", type: .aaaa)
        let parsed = try XCTUnwrap(DNSQuery.parse(q))
        XCTAssertEqual(parsed.id, 0xbeef)
        XCTAssertEqual(parsed.name, "cdn.example.com")
        XCTAssertEqual(parsed.type, 28)
        let fail = DNSQuery.servfail(q, parsed)
        XCTAssertEqual(Array(fail[0..<2]), [0xbe, 0xef])
        XCTAssertEqual(fail[2] & 0x80, 0x80, "QR set")
        XCTAssertEqual(fail[3] & 0x0f, 2, "SERVFAIL")
        XCTAssertEqual(Array(fail[4..<12]), [0, 1, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(fail.count, q.count)
    }

    func testRefusesWhatIsNotAPlainQuery() {
        let q = DNSMessage.query(id: 1, name: "example.com", type: .a)
        var response = q; response[2] |= 0x80
        XCTAssertNil(DNSQuery.parse(response))
        var two = q; two[5] = 2
        XCTAssertNil(DNSQuery.parse(two))
        for n in 0..<q.count { XCTAssertNil(DNSQuery.parse(Array(q.prefix(n))), "prefix \(n)") }
        var pointer = q; pointer[12] = 0xc0
        XCTAssertNil(DNSQuery.parse(pointer))
    }
}
