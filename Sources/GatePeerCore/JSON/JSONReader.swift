/// Recursive-descent parser over UTF-8 bytes (RFC 8259), with a nesting limit so a
/// hostile file cannot exhaust the stack of a root-privileged process.
public struct JSONReader {
    /// The document, borrowed for the length of `parse` (from `withUnsafeBufferPointer` or
    /// `withUTF8`, never kept). A buffer rather than `[UInt8]`: an Array's bounds-checked
    /// subscript cost 2-3% of `validate` (CPU, median of interleaved release runs: a
    /// 100,000-rule policy 91.0 vs 93.1 ms, 60,000 rules with ports 355.6 vs 365.6 ms),
    /// and the parser checks `index < bytes.count` before each read itself. Debug builds
    /// (the tests and their fuzz loops) check every subscript again.
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var line = 1
    private var lineStart = 0
    private var depth = 0
    /// Where the parser is, as keys and indexes; turned into text only for a duplicate key.
    private var steps: [JSONPathStep] = []
    /// Arrays for which this returns a consumer are not built: the consumer reads each
    /// element itself (readValue, or a faster reading of its own) and the tree holds an
    /// empty array in their place. Large policies stream their rules this way.
    var stream: ((_ path: [JSONPathStep]) -> ((inout JSONReader, _ index: Int) throws -> Void)?)? = nil
    private var pathText: String {
        steps.reduce(into: "") { out, step in
            switch step {
            case .key(let k): out = Problems.memberPath(out, k)
            case .index(let i): out += "[\(i)]"
            }
        }
    }
    private static let maxDepth = 64
    /// Members and items of the objects and arrays being parsed, innermost last: each
    /// container is copied out once, at its exact size, instead of growing its own array
    /// append by append (100,000 two-member objects in a large policy).
    private var memberScratch: [JSONValue.Member] = []
    private var itemScratch: [JSONValue] = []
    /// Duplicate keys found while parsing, reported by the config decoder with their paths.
    public private(set) var duplicateKeys: [(path: String, key: String, line: Int)] = []

    /// `parse(bytes:)` of the text's UTF-8, read in place (no copy).
    public static func parse(_ text: String) throws -> (JSONValue, duplicates: [(path: String, key: String, line: Int)]) {
        var text = text
        return try text.withUTF8 { try parse(buffer: $0, stream: nil) }
    }

    /// Parses UTF-8 bytes in place (no copy into a String first: a policy file can be
    /// 10 MB). Strings are validated as UTF-8 one by one. Returns the document and its
    /// duplicate keys (path of the object, key, line); throws JSONSyntaxError at the
    /// first syntax error.
    public static func parse(bytes: [UInt8]) throws -> (JSONValue, duplicates: [(path: String, key: String, line: Int)]) {
        try parse(bytes: bytes, stream: nil)
    }

    /// `parse(bytes:)`, handing the arrays `stream` returns a consumer for to it.
    static func parse(bytes: [UInt8],
                      stream: ((_ path: [JSONPathStep]) -> ((inout JSONReader, _ index: Int) throws -> Void)?)?) throws
        -> (JSONValue, duplicates: [(path: String, key: String, line: Int)]) {
        try bytes.withUnsafeBufferPointer { try parse(buffer: $0, stream: stream) }
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>,
                              stream: ((_ path: [JSONPathStep]) -> ((inout JSONReader, _ index: Int) throws -> Void)?)?) throws
        -> (JSONValue, duplicates: [(path: String, key: String, line: Int)]) {
        var r = JSONReader(bytes: buffer)
        r.stream = stream
        r.skipWhitespace()
        let v = try r.parseValue()
        r.skipWhitespace()
        guard r.index == r.bytes.count else { throw r.error("unexpected text after the document") }
        return (v, r.duplicateKeys)
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(line: line, column: index - lineStart + 1, message: message)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0d: index += 1
            case 0x0a: index += 1; line += 1; lineStart = index
            default: return
            }
        }
    }

    private mutating func parseValue() throws -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of file") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("expected a value")
        }
    }

    private mutating func expectWord(_ w: StaticString) throws {
        let u = UnsafeBufferPointer(start: w.utf8Start, count: w.utf8CodeUnitCount)
        guard index + u.count <= bytes.count, bytes[index..<index + u.count].elementsEqual(u) else {
            throw error("expected a value")
        }
        index += u.count
    }

    private mutating func enter() throws {
        depth += 1
        if depth > JSONReader.maxDepth { throw error("nesting deeper than \(JSONReader.maxDepth) levels") }
    }

    private mutating func parseObject() throws -> JSONValue {
        try enter(); defer { depth -= 1 }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object([]) }
        let base = memberScratch.count
        defer { memberScratch.removeSubrange(base...) }
        // Config objects are small, and a scan beats hashing every key; past a few
        // members the keys go into a set, so a hostile object of 300,000 keys costs
        // 300,000 lookups, not 4.5e10 comparisons.
        var keys: Set<String>? = nil
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a quoted key") }
            let keyLine = line
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after key \(Echo.quoted(key))") }
            index += 1
            skipWhitespace()
            steps.append(.key(key))
            let value = try parseValue()
            steps.removeLast()
            let seen: Bool
            if keys != nil {
                seen = !keys!.insert(key).inserted
            } else {
                seen = memberScratch[base...].contains(where: { $0.key == key })
                if memberScratch.count - base >= 16 { keys = Set(memberScratch[base...].map(\.key) + [key]) }
            }
            if seen { duplicateKeys.append((path: pathText, key: key, line: keyLine)) }
            memberScratch.append(.init(key: key, value: value, line: keyLine))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of file in an object") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(Array(memberScratch[base...])) }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func parseArray() throws -> JSONValue {
        try enter(); defer { depth -= 1 }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array([]) }
        if let consumer = stream?(steps) { return try streamArray(consumer) }
        let base = itemScratch.count
        defer { itemScratch.removeSubrange(base...) }
        while true {
            skipWhitespace()
            steps.append(.index(itemScratch.count - base))
            itemScratch.append(try parseValue())
            steps.removeLast()
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of file in an array") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(Array(itemScratch[base...])) }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func streamArray(_ consumer: (inout JSONReader, Int) throws -> Void) throws -> JSONValue {
        var k = 0
        while true {
            skipWhitespace()
            steps.append(.index(k))
            try consumer(&self, k)
            steps.removeLast()
            k += 1
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of file in an array") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array([]) }
            throw error("expected ',' or ']'")
        }
    }

    // MARK: for stream consumers

    /// The next value, as the tree would hold it.
    mutating func readValue() throws -> JSONValue { try parseValue() }

    struct Mark { fileprivate let index: Int, line: Int, lineStart: Int }
    func mark() -> Mark { Mark(index: index, line: line, lineStart: lineStart) }
    mutating func rewind(to m: Mark) { index = m.index; line = m.line; lineStart = m.lineStart }

    /// Reads an object whose values are all strings without building it, handing each
    /// member to `member` (false: not wanted). Returns false, having read an unknown
    /// amount, when the next value is not such an object or `member` refused one: rewind
    /// and read it with readValue() to get the general treatment.
    mutating func readFlatStrings(_ member: (String, String) -> Bool) throws -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return false }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return true }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return false }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
            index += 1
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return false }
            let value = try parseString()
            guard member(key, value) else { return false }
            skipWhitespace()
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return true }
            return false
        }
    }

    private mutating func parseString() throws -> String {
        index += 1
        // Fast path: no escapes, so the string is a slice of the input; ASCII needs no
        // validation.
        var j = index
        var ascii = true
        while j < bytes.count {
            let c = bytes[j]
            if c == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[index..<j])
                let s: String
                if ascii {
                    s = String(decoding: slice, as: UTF8.self)
                } else {
                    guard let v = String(validating: slice, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
                    s = v
                }
                index = j + 1
                return s
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            ascii = ascii && c < 0x80
            j += 1
        }
        var out: [UInt8] = Array(bytes[index..<j])
        index = j
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                index += 1
                guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
                return s
            }
            if c < 0x20 { throw error("control character in a string (escape it)") }
            if c == UInt8(ascii: "\\") {
                index += 1
                guard index < bytes.count else { break }
                let e = bytes[index]
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5c)
                case UInt8(ascii: "/"): out.append(0x2f)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xd800..<0xdc00).contains(scalar) {
                        guard index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\\"),
                              bytes[index + 2] == UInt8(ascii: "u") else { throw error("unpaired surrogate") }
                        index += 2
                        let lowHalf = try parseHex4()
                        guard (0xdc00..<0xe000).contains(lowHalf) else { throw error("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xd800) << 10) + (lowHalf - 0xdc00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw error("invalid escape")
                }
                index += 1
                continue
            }
            out.append(c)
            index += 1
        }
        throw error("unterminated string")
    }

    /// Reads four hex digits after `\u`; leaves `index` on the last digit.
    private mutating func parseHex4() throws -> UInt32 {
        guard index + 4 < bytes.count else { throw error("short \\u escape") }
        var v: UInt32 = 0
        for k in 1...4 {
            guard let d = hexValue(bytes[index + k]) else { throw error("invalid \\u escape") }
            v = v << 4 | d
        }
        index += 4
        return v
    }

    private func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    private mutating func parseNumber() throws -> JSONValue {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits() -> Int {
            let s = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - s
        }
        let intStart = index
        guard digits() > 0 else { throw error("invalid number") }
        if bytes[intStart] == UInt8(ascii: "0") && index - intStart > 1 { throw error("leading zeros in a number") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw error("invalid number") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw error("invalid number") }
        }
        return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
    }
}

/// One step of a path from the document's root.
enum JSONPathStep: Equatable { case key(String), index(Int) }
