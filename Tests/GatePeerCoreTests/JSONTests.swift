import XCTest
@testable import GatePeerCore

final class JSONTests: XCTestCase {
    func testParsesValuesAndKeepsOrder() throws {
        let (v, dups) = try JSONReader.parse(#"{"b": [1, -2.5e3, true, null], "a": "x\n\u00e9\ud83d\ude00"}"#)
        XCTAssertTrue(dups.isEmpty)
        guard case .object(let m) = v else { return XCTFail() }
        XCTAssertEqual(m.map(\.key), ["b", "a"])
        XCTAssertEqual(v["a"], .string("x\né😀"))
        XCTAssertEqual(v["b"], .array([.number("1"), .number("-2.5e3"), .bool(true), .null]))
    }

    func testReportsDuplicateKeysWithPath() throws {
        let (_, dups) = try JSONReader.parse("{\"links\": [{\"name\": \"a\",\n \"name\": \"b\"}]}")
        XCTAssertEqual(dups.count, 1)
        XCTAssertEqual(dups.first?.path, "links[0]")
        XCTAssertEqual(dups.first?.line, 2)
    }

    func testSyntaxErrorsCarryPosition() {
        for bad in ["{", "{\"a\" 1}", "[1,]", "01", "\"abc", "{\"a\":1}x", "[\"\u{01}\"]", "nul"] {
            XCTAssertThrowsError(try JSONReader.parse(bad), bad)
        }
        do { _ = try JSONReader.parse("{\n\"a\": tru\n}") } catch let e as JSONSyntaxError {
            XCTAssertEqual(e.line, 2)
        } catch { XCTFail("\(error)") }
    }

    func testNestingLimit() {
        XCTAssertThrowsError(try JSONReader.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)))
    }

    func testOutputEscapesAndSortsKeys() {
        let s = JSONOut.object(["b": .int(1), "a": .string("q\"\n\u{1}")]).render(pretty: false)
        XCTAssertEqual(s, #"{"a":"q\"\n\u0001","b":1}"#)
    }
}
