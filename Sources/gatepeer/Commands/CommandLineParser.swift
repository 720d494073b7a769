import GatePeerCore

/// A command line read against the commands gatepeer has: help, the version, or one
/// command with its options and arguments.
enum ParsedCommandLine {
    /// `-h`/`--help` anywhere, or `help [COMMAND]`: the usage text to print (exit 0).
    case help(String)
    /// `--version` alone.
    case version
    /// A command with what was given for it.
    case run(any GatePeerCommand.Type, Invocation)
}

/// What a command line gave one command: its option values and flags by long name, and
/// the words after the command's own ("filter check SRC DST" gives [SRC, DST]).
struct Invocation {
    /// Value options by long name ("--config"), each given at most once.
    var values: [String: String] = [:]
    /// Flags given, by long name ("--json").
    var flags: Set<String> = []
    /// The arguments after the command words, in order.
    var arguments: [String] = []

    /// The value of `option`, or nil when not given.
    func value(_ option: OptionSpec) -> String? { values[option.long] }
    /// Whether flag `option` was given.
    func has(_ option: OptionSpec) -> Bool { flags.contains(option.long) }
}

/// gatepeer's one option dialect, for every command alike: `--opt VALUE` and `--opt=VALUE`,
/// `-c` for `--config` and `-j` for `--json`, options before or after the verb (and between
/// a command and its subcommand), `--` ends the options. A value option given twice is
/// refused naming both values (last-one-wins made `--to A --to B` silently use B); a flag
/// given twice is the flag. Every problem is a UsageError (exit 2) naming the word and what
/// is valid, before any command runs.
struct CommandLineParser {
    /// The commands, each with its words ("filter", "grant").
    let commands: [any GatePeerCommand.Type]

    /// One word as read: an option (with its value, when it takes one) or an argument.
    private enum Word {
        case option(OptionSpec, value: String?, given: String)
        case flagWithValue(OptionSpec)
        case missingValue(OptionSpec, given: String)
        case emptyValue(OptionSpec, given: String)
        case unknown(String)
        case argument(String)
    }

    /// Reads `args` (without the program name). Throws UsageError with the usage text of
    /// the command when one was named, else the top usage.
    func parse(_ args: [String]) throws(UsageError) -> ParsedCommandLine {
        let words = split(args)
        let positional = words.compactMap { if case .argument(let a) = $0 { return a } else { return nil } }
        let helpWanted = words.contains { if case .option(.help, _, _) = $0 { return true } else { return false } }
        if positional.first == "help" || helpWanted {
            let topic = positional.first == "help" ? positional.dropFirst().first : positional.first
            return .help(topic.flatMap { Usage.command[$0] } ?? Usage.top)
        }
        guard let first = positional.first else {
            if words.count == 1, case .option(.version, _, _) = words[0] { return .version }
            throw UsageError(message: "no command given", usage: Usage.top)
        }
        let command = try resolve(positional)
        let usage = Usage.command[first] ?? Usage.top
        var invocation = Invocation()
        invocation.arguments = Array(positional.dropFirst(command.words.count))
        let name = command.name
        for word in words {
            switch word {
            case .argument:
                continue
            case .unknown(let given):
                throw UsageError(message: "unknown option \(Echo.quoted(given)) for \(name); valid: \(command.validOptions)", usage: usage)
            case .flagWithValue(let o):
                throw UsageError(message: "\(o.long) takes no value", usage: usage)
            case .missingValue(let o, let given):
                throw UsageError(message: "\(given) needs \(o.needs)", usage: usage)
            case .emptyValue(let o, let given):
                throw UsageError(message: "\(given): the value is empty; it needs \(o.needs)", usage: usage)
            case .option(let o, let value, let given):
                guard command.options.contains(o) else {
                    if o == .json {
                        // Where a sibling has it (filter check, filter grants), say so.
                        let siblings = commands.filter { $0.words[0] == first && $0.options.contains(.json) }.map { "\($0.name) --json" }
                        throw UsageError(message: "\(name) has no --json output" + (siblings.isEmpty ? "" : "; valid: " + siblings.joined(separator: ", ")), usage: usage)
                    }
                    throw UsageError(message: "unknown option \(Echo.quoted(given)) for \(name); valid: \(command.validOptions)", usage: usage)
                }
                guard let value else { invocation.flags.insert(o.long); continue }
                if let earlier = invocation.values[o.long] {
                    throw UsageError(message: CommandLineParser.repeatedMessage(o.display, earlier, value), usage: usage)
                }
                invocation.values[o.long] = value
            }
        }
        if !command.takesArguments, let extra = invocation.arguments.first {
            throw UsageError(message: "\(name) takes no argument \(Echo.quoted(extra))", usage: usage)
        }
        return .run(command, invocation)
    }

    /// The command the leading arguments name: one word, or a command and its subcommand.
    private func resolve(_ positional: [String]) throws(UsageError) -> any GatePeerCommand.Type {
        let first = positional[0]
        let family = commands.filter { $0.words[0] == first }
        guard !family.isEmpty else { throw UsageError(message: "unknown command \(Echo.quoted(first))", usage: Usage.top) }
        if let single = family.first(where: { $0.words.count == 1 }) { return single }
        let subs = family.map { $0.words[1] }.joined(separator: ", ")
        guard positional.count > 1 else {
            throw UsageError(message: "\(first) needs a subcommand; valid: \(subs)", usage: Usage.command[first] ?? Usage.top)
        }
        guard let sub = family.first(where: { $0.words[1] == positional[1] }) else {
            throw UsageError(message: "unknown \(first) subcommand \(Echo.quoted(positional[1])); valid: \(subs)", usage: Usage.command[first] ?? Usage.top)
        }
        return sub
    }

    /// Each word as an option or an argument. A value option takes the rest of its word
    /// after "=" or else the next word, whatever it looks like (`--to -x` is a value).
    private func split(_ args: [String]) -> [Word] {
        var words: [Word] = []
        var i = 0
        var optionsEnded = false
        while i < args.count {
            let a = args[i]
            i += 1
            if optionsEnded || a == "-" || !a.hasPrefix("-") {
                words.append(.argument(a))
                continue
            }
            if a == "--" {
                optionsEnded = true
                continue
            }
            var name = a, inline: String? = nil
            if a.hasPrefix("--"), let eq = a.firstIndex(of: "=") {
                name = String(a[..<eq])
                inline = String(a[a.index(after: eq)...])
            }
            guard let o = OptionSpec.all.first(where: { $0.long == name || $0.short == name }) else {
                words.append(.unknown(a))
                continue
            }
            guard o.value != nil else {
                words.append(inline == nil ? .option(o, value: nil, given: a) : .flagWithValue(o))
                continue
            }
            // No option takes an empty value: `--config=` read as a file named "" ended in
            // "cannot read config : No such file or directory".
            if let inline {
                words.append(inline.isEmpty ? .emptyValue(o, given: name) : .option(o, value: inline, given: name))
            } else if i < args.count {
                words.append(args[i].isEmpty ? .emptyValue(o, given: name) : .option(o, value: args[i], given: name))
                i += 1
            } else {
                words.append(.missingValue(o, given: name))
            }
        }
        return words
    }
}

extension CommandLineParser {
    /// The refusal for a value option given twice ("--to: given twice (A, B); give it once").
    static func repeatedMessage(_ option: String, _ first: String, _ second: String) -> String {
        "\(Echo.value(option)): given twice (\(Echo.value(first)), \(Echo.value(second))); give it once"
    }
}

extension GatePeerCommand {
    /// "filter grant".
    static var name: String { words.joined(separator: " ") }

    /// Its options as listed in a refusal, help last: "-c/--config FILE, -j/--json, -h/--help".
    static var validOptions: String { (options + [.help]).map(\.listing).joined(separator: ", ") }
}
