/// Reads the members of one JSON object as the decoders' fields (string, bool, integer in
/// a range, array, any value), reporting a missing, null or mistyped field to `Problems`
/// at its JSON path; `finish` reports the keys no reader asked for (typos), with a
/// suggestion. The typed values of the fields' texts (addresses, prefixes, names) are
/// `FieldReader`'s.
struct ObjectReader {
    /// The object's JSON path, formatted only when a problem is reported: configs can
    /// hold 10,000s of routes and almost never have problems.
    let path: () -> String
    /// The object's members in file order (a repeated key was reported by the parser).
    let members: [JSONValue.Member]

    /// nil, with a problem at `path` ("(top level)" for ""), when `v` is not an object.
    init?(_ v: JSONValue, path: @escaping @autoclosure () -> String, _ p: inout Problems) {
        guard case .object(let m) = v else {
            let text = path()
            p.add(text.isEmpty ? "(top level)" : text, "is \(v.typeName); valid: an object { ... }")
            return nil
        }
        self.path = path
        self.members = m
    }

    /// The member's path.
    private func sub(_ key: String) -> String { Problems.memberPath(path(), key) }

    /// The member's value; nil when absent. An explicit null is reported (leave the field
    /// out for its default), so a half-edited file does not silently fall back.
    func value(_ key: String, _ p: inout Problems) -> JSONValue? {
        guard let v = members.first(where: { $0.key == key })?.value else { return nil }
        if case .null = v {
            p.add(sub(key), "is null; leave the field out to use its default, or give a value")
            return nil
        }
        return v
    }

    /// A string member; nil when absent (a problem when `required`), null or not a string.
    func string(_ key: String, required: Bool, _ p: inout Problems) -> String? {
        guard let v = value(key, &p) else {
            if required { p.add(sub(key), "is required") }
            return nil
        }
        guard case .string(let s) = v else { p.add(sub(key), "is \(v.typeName); valid: a string"); return nil }
        return s
    }

    /// A boolean member; nil when absent, null or not true/false.
    func bool(_ key: String, _ p: inout Problems) -> Bool? {
        guard let v = value(key, &p) else { return nil }
        guard case .bool(let b) = v else { p.add(sub(key), "is \(v.typeName); valid: true or false"); return nil }
        return b
    }

    /// An integer member within `range`; nil when absent (a problem when `required`), not
    /// an integer, or out of range. `hint` follows the valid range in messages (a unit, a why).
    func integer(_ key: String, in range: ClosedRange<Int>, required: Bool = false,
                          _ p: inout Problems, hint: String? = nil) -> Int? {
        guard let v = value(key, &p) else {
            if required { p.add(sub(key), "is required; valid: \(range.lowerBound)..\(range.upperBound)") }
            return nil
        }
        let extra = hint.map { " \($0)" } ?? ""
        guard case .number(let t) = v else {
            p.add(sub(key), "is \(v.typeName); valid: an integer \(range.lowerBound)..\(range.upperBound)\(extra)")
            return nil
        }
        guard let n = Int(t) else {
            let integral = t.drop(while: { $0 == "-" }).allSatisfy { $0.isASCII && $0.isNumber }
            p.add(sub(key), "\(Echo.value(t)) is \(integral ? "out of range" : "not an integer"); valid: \(range.lowerBound)..\(range.upperBound)\(extra)")
            return nil
        }
        guard range.contains(n) else {
            p.add(sub(key), "\(n) is out of range; valid: \(range.lowerBound)..\(range.upperBound)\(extra)")
            return nil
        }
        return n
    }

    /// An array member; nil when absent (a problem when `required`), null or not an array.
    func array(_ key: String, required: Bool, _ p: inout Problems) -> [JSONValue]? {
        guard let v = value(key, &p) else {
            if required { p.add(sub(key), "is required; valid: an array [ ... ]") }
            return nil
        }
        guard case .array(let a) = v else { p.add(sub(key), "is \(v.typeName); valid: an array [ ... ]"); return nil }
        return a
    }

    /// Reports every member whose key is not in `known`, listing the valid ones.
    func finish(_ p: inout Problems, known: [String]) {
        for m in members where !known.contains(m.key) {
            // The suggestion is worked out only for a problem that is kept (p.add's
            // message is an autoclosure): an object of 300,000 unknown keys costs lookups.
            p.add(sub(m.key), "unknown field\(ObjectReader.suggestion(m.key, known)); valid here: \(known.joined(separator: ", "))")
        }
    }

    /// " (did you mean "KEY"?)" when suggestedField finds one, else "".
    static func suggestion(_ key: String, _ known: [String]) -> String {
        suggestedField(key, known: known).map { " (did you mean \"\($0)\"?)" } ?? ""
    }

    /// The known field an unknown key was probably meant to be: a field's standard term (VNI
    /// for vxlanId), or a name at most 3 and at most half its length away in edits ("dport" ->
    /// "ports" is 2 of 5), so that a short different word ("vni" is 3 edits from "mtu")
    /// suggests nothing.
    static func suggestedField(_ key: String, known: [String]) -> String? {
        let terms = ["vni": "vxlanId", "vxlan": "vxlanId", "dstport": "port", "local": "outerIpAddress", "remote": "peers"]
        if key.utf8.count <= 16, let t = terms[key.lowercased()], known.contains(t) { return t }
        // The distance is at least the difference in length: a long key (a hostile file's
        // 50 MB one) is no typo of a field name and is not compared.
        let near = known.filter { abs($0.utf8.count - key.utf8.count) <= 3 }
        guard let close = near.min(by: { editDistance($0, key) < editDistance($1, key) }) else { return nil }
        let d = editDistance(close, key)
        return d <= 3 && 2 * d <= max(close.count, key.count) ? close : nil
    }

    /// Levenshtein distance, case-insensitive, in characters.
    private static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.lowercased()), y = Array(b.lowercased())
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var prev = Array(0...y.count)
        for i in 1...x.count {
            var cur = [i] + Array(repeating: 0, count: y.count)
            for j in 1...y.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[y.count]
    }
}
