import XCTest
@testable import GatePeerCore

/// ha-state.json's record (HAState.Record): what `gatepeer ha notify` writes and
/// `gatepeer status` reads back, and the messages for a damaged one.
final class HAStateRecordTests: XCTestCase {
    func testRoundTripAndText() throws {
        let r = HAState.Record(.init(state: .master, type: "GROUP", name: "gatepeer", priority: 150), unixTime: 1_796_143_203.25)
        let text = r.json.render(pretty: false)
        for part in ["\"state\":\"MASTER\"", "\"type\":\"group\"", "\"name\":\"gatepeer\"", "\"priority\":150",
                     "\"time\":\"2026-12-01 16:40:03 UTC\"", "\"unixTime\":1796143203.25"] {
            XCTAssertTrue(text.contains(part), "no \(part) in \(text)")
        }
        XCTAssertEqual(try HAState.Record.parse(text), r)
        XCTAssertEqual(r.text, "MASTER since 2026-12-01 16:40:03 UTC (group gatepeer, priority 150)")

        let short = HAState.Record(.init(state: .fault), unixTime: 0)
        XCTAssertTrue(short.json.render(pretty: false).contains("\"type\":null"), short.json.render(pretty: false))
        XCTAssertEqual(try HAState.Record.parse(short.json.render(pretty: false)), short)
        XCTAssertEqual(short.text, "FAULT since 1970-01-01 00:00:00 UTC")
    }

    func testDamagedRecordsNameTheField() {
        func message(_ text: String) -> String? {
            do { _ = try HAState.Record.parse(text); return nil } catch { return error.message }
        }
        XCTAssertEqual(message("{"), "not a JSON object")
        XCTAssertEqual(message("[]"), "not a JSON object")
        XCTAssertEqual(message(#"{"unixTime":1}"#), "state: must be a string")
        XCTAssertEqual(message(#"{"state":"PRIMARY","unixTime":1}"#)?.hasPrefix("state: must be one of MASTER, BACKUP"), true)
        XCTAssertEqual(message(#"{"state":"MASTER","type":"cluster","unixTime":1}"#), "type: must be group, instance or null")
        XCTAssertEqual(message(#"{"state":"MASTER","priority":300,"unixTime":1}"#), "priority: must be 0..255 or null")
        XCTAssertEqual(message(#"{"state":"MASTER","name":5,"unixTime":1}"#), "name: must be a string or null")
        XCTAssertEqual(message(#"{"state":"MASTER"}"#), "unixTime: must be a number (seconds since the Unix epoch)")
    }
}
