/// The problems one decoder run finds (links config, filter, IPsec sites, grants state
/// file), each with its JSON path: every decoder reports through one value of this type,
/// so every report has the same shape, the same cap and the same "... and N more" line
/// (`ConfigError.report`).
///
/// Memory stays linear in the input and bounded: the first `kept` problems keep their
/// text, the rest are only counted (`more`).
struct Problems {
    /// Problems kept with their text; a config of 32 MiB of `{}` links would otherwise
    /// hold several problems per three bytes of input.
    static let kept = 1000
    /// The problems kept, in the order found.
    private(set) var list: [ConfigProblem] = []
    /// Problems found beyond `kept`.
    private(set) var more = 0

    /// Records a problem at `path` (a JSON path such as `links[1].vxlanId`, "" for the
    /// whole input). Path and message are formatted only for problems that are kept, so
    /// the ones past `kept` cost a count, whatever their message would have had to look up.
    mutating func add(_ path: @autoclosure () -> String, _ message: @autoclosure () -> String) {
        if list.count < Problems.kept { list.append(ConfigProblem(path(), message())) } else { more += 1 }
    }

    /// The JSON path of member `key` of the value at `path` ("" for the document):
    /// `links[0].mtu`, or the key alone at the top. Keys come from the input, so they are
    /// echoed as values (escaped, bounded).
    static func memberPath(_ path: String, _ key: String) -> String {
        path.isEmpty ? Echo.value(key) : "\(path).\(Echo.value(key))"
    }

    /// Whether nothing was found.
    var isEmpty: Bool { list.isEmpty }

    /// Everything found, as the error a decoder returns.
    var error: ConfigError { ConfigError(problems: list, more: more) }

    /// `value` when nothing was found, else the problems (also when `value` is nil with no
    /// problem recorded: a decoder that built nothing never succeeds).
    func result<T>(_ value: T?) -> Result<T, ConfigError> {
        if list.isEmpty, let value { return .success(value) }
        return .failure(error)
    }
}
