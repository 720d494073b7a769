/// A JSON document as written: object members in file order with their line numbers,
/// numbers kept as text so integers are never rounded through Double, and duplicate
/// keys reported instead of silently overriding each other (Foundation's decoder keeps
/// the last one, which lets a typo'd config pass).
public enum JSONValue: Equatable, Sendable {
    // Not `indirect`: arrays already break the recursion, and boxing every string
    // value cost an allocation each.
    case object([Member])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// One member of an object, with the line its key is on (for messages).
    public struct Member: Equatable, Sendable {
        /// The key, unescaped.
        public let key: String
        /// The value.
        public let value: JSONValue
        /// 1-based line of the key.
        public let line: Int
    }

    /// The type with its article, as messages say it: "an object", "a string", "null".
    public var typeName: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }

    /// The value of the first member named `key` of an object; nil when absent or not an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }
}
