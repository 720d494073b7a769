import Foundation
import XCTest

/// Golden bytes and captured dumps under Fixtures/, read through #filePath (not bundled).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// A hex dump (whitespace ignored) as bytes.
    static func hex(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)
        let digits = text.filter { $0.isHexDigit }.map { UInt8($0.hexDigitValue!) }
        return stride(from: 0, to: digits.count - 1, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)
    }

    /// 16 bytes a line, as the fixtures are written.
    static func hexText(_ b: [UInt8]) -> String {
        stride(from: 0, to: b.count, by: 16).map { i in
            b[i..<min(i + 16, b.count)].map { String(format: "%02x", $0) }.joined(separator: " ")
        }.joined(separator: "\n") + "\n"
    }

    /// FNV-1a 64 of `b`, for golden outputs too large to keep as hex.
    static func fnv(_ b: [UInt8]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for x in b { h = (h ^ UInt64(x)) &* 0x100_0000_01b3 }
        return "\(b.count) \(String(h, radix: 16).leftPadded(16))"
    }

    /// Every message's sequence number zeroed: the captures were made with clock-based ones.
    static func zeroingSequences(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        var at = 0
        while at + 16 <= b.count {
            let len = Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24
            for i in 8..<12 { b[at + i] = 0 }
            guard len >= 16 else { break }
            at += (len + 3) & ~3
        }
        return b
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
