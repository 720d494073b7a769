/// The rules of `filter.outbound[N].rules`, read while the document is parsed instead of
/// being built into the tree: a plain rule (action, destination, perhaps a protocol name,
/// all strings) is decoded on the spot without a JSON object; anything else is kept as
/// its JSON value for the general decoder, which reports problems with their paths. A
/// policy of 100,000 rules then never holds 100,000 JSON objects.
final class StreamedRules {
    enum Item { case plain(OutboundRule), value(JSONValue) }
    private(set) var groups: [Int: [Item]] = [:]

    func consumer(for path: [JSONPathStep]) -> ((inout JSONReader, Int) throws -> Void)? {
        guard path.count == 4, path[0] == .key("filter"), path[1] == .key("outbound"), path[3] == .key("rules"),
              case .index(let g) = path[2] else { return nil }
        groups[g] = []
        return { [unowned self] reader, _ in
            let start = reader.mark()
            var fields = FilterDecoder.PlainFields()
            if try reader.readFlatStrings({ fields.take($0, $1) }), let rule = fields.rule {
                self.groups[g, default: []].append(.plain(rule))
            } else {
                reader.rewind(to: start)
                self.groups[g, default: []].append(.value(try reader.readValue()))
            }
        }
    }
}
