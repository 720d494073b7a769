import XCTest
@testable import GatePeerCore

/// The one hex spelling: nft names (digest counters, address sets) and raw key bytes.
final class HexTests: XCTestCase {
    func testDigitsArePaddedLowerCase() {
        XCTAssertEqual(Hex.digits(0xab, width: 16), "00000000000000ab")
        XCTAssertEqual(Hex.digits(0xc000_0201, width: 8), "c0000201")
        XCTAssertEqual(Hex.digits(UInt64.max, width: 8), "ffffffffffffffff", "never cut")
    }

    func testBytesTwoDigitsEach() {
        XCTAssertEqual(Hex.bytes([0x0a, 0x80, 0x00, 0xff]), "0a8000ff")
        XCTAssertEqual(Hex.bytes([]), "")
        // Raw keys read back from the kernel are spelled with it.
        let raw = NftElement(set: "s", key: [.raw([0x01, 0xfe], [0x02, 0x00])], interval: true)
        XCTAssertEqual(raw.keyText, "0x01fe-0x0200")
    }
}
