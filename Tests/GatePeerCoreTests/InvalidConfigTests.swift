import Foundation
import XCTest
@testable import GatePeerCore

/// The invalid-config corpus (InvalidConfigs/, read through #filePath), without root:
/// each file is refused by the decoder, and a line of the report, as `gatepeer validate`
/// prints it, names the field of expectations.tsv and says what its third column says.
/// That every verb exits 2 on these files and leaves the kernel untouched is
/// KernelTests.testInvalidConfigCorpusExitsTwoAndLeavesKernelUntouched (root).
final class InvalidConfigTests: XCTestCase {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("InvalidConfigs")

    /// expectations.tsv: file, field path (or the report's leading words), text the line contains.
    static func expectations() throws -> [(file: String, path: String, text: String)] {
        let table = try String(contentsOf: dir.appendingPathComponent("expectations.tsv"), encoding: .utf8)
        return table.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
            .filter { !$0[0].hasPrefix("#") }
            .map { ($0[0], $0.count > 1 ? $0[1] : "", $0.count > 2 ? $0[2] : "") }
    }

    func testEveryFileHasAnExpectationAndViceVersa() throws {
        let rows = try Self.expectations()
        XCTAssertGreaterThanOrEqual(rows.count, 100, "corpus too small")
        XCTAssertTrue(rows.allSatisfy { !$0.path.isEmpty && !$0.text.isEmpty }, "every row names a field and a text")
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.dir.path).filter { $0.hasSuffix(".json") }
        XCTAssertEqual(Set(files), Set(rows.map(\.file)))
        XCTAssertEqual(rows.count, Set(rows.map(\.file)).count, "a file listed twice")
    }

    func testEachFileIsRefusedNamingItsField() throws {
        for row in try Self.expectations() {
            let text = try String(contentsOf: Self.dir.appendingPathComponent(row.file), encoding: .utf8)
            guard case .failure(let e) = ConfigDecoder.decode(text) else { XCTFail("\(row.file): accepted"); continue }
            let lines = e.report()
            let named = lines.filter { $0.hasPrefix(row.path + ":") }
            XCTAssertFalse(named.isEmpty, "\(row.file): no problem names \(row.path):\n\(lines.joined(separator: "\n"))")
            XCTAssertTrue(named.contains { $0.contains(row.text) }, "\(row.file): no line on \(row.path) says \"\(row.text)\":\n\(named.joined(separator: "\n"))")
        }
    }

    /// The corpus files are single faults in an otherwise good config: the lab config
    /// the most of them start from decodes, so a refusal is the fault's, not the base's.
    func testTheBaseConfigDecodes() throws {
        XCTAssertNotNil(decodeOK(labConfigText))
        let first = try String(contentsOf: Self.dir.appendingPathComponent("01-vxlanid-zero.json"), encoding: .utf8)
        XCTAssertNotNil(decodeOK(first.replacingOccurrences(of: "\"vxlanId\": 0", with: "\"vxlanId\": 1")))
    }
}
