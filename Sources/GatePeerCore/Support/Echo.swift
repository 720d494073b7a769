/// Text taken from input (a config, the command line, a state file, names and aliases
/// read from the kernel) as it may appear in a message or log line: escaped, so a value
/// cannot move the cursor, recolour or rewrite what the operator reads, and bounded, so a
/// 50 MB name does not become a 50 MB line.
///
/// Escaped, as `\u001b` (JSON's spelling, lower-case hex): the C0 controls U+0000..U+001F,
/// DEL U+007F, the C1 controls U+0080..U+009F (U+009B is a one-byte CSI to some
/// terminals), the bidirectional formatting characters (U+061C, U+200E, U+200F,
/// U+202A..U+202E, U+2066..U+2069: Trojan Source, CVE-2021-42574), the line and paragraph
/// separators U+2028 and U+2029, and U+FEFF (an invisible byte order mark).
public enum Echo {
    /// How many characters (Unicode scalars) of a value a message shows.
    public static let valueLimit = 64
    /// How many characters of a file path a message shows: a real path fits whole (the
    /// test state paths are about 80), a 100 kB `-c` argument does not become the line.
    public static let pathLimit = 256
    /// The longest line written to stderr or a log (characters); a line is longer only
    /// when a message echoes input without `value`, which this bounds all the same.
    public static let lineLimit = 8192

    /// `s` escaped (also `"` and `\`, so it reads unambiguously inside quotes) and, beyond
    /// `limit` characters, cut with "... (N bytes)" giving the whole value's UTF-8 size.
    public static func value(_ s: String, limit: Int = valueLimit) -> String {
        render(s, limit: limit, quotes: true, keepNewlines: false)
    }

    /// A file path as a message shows it: `value` with `pathLimit`.
    public static func path(_ s: String) -> String { value(s, limit: pathLimit) }

    /// `value` in double quotes, as messages show strings.
    public static func quoted(_ s: String, limit: Int = valueLimit) -> String { "\"" + value(s, limit: limit) + "\"" }

    /// A finished message for stderr or a log: controls escaped as in `value` (quotes are
    /// the message's own and stay), a newline too (it would forge a line), and cut at
    /// `lineLimit`. Values already passed through `value` are unchanged.
    public static func line(_ s: String) -> String {
        // Almost every line is plain: check before building a copy.
        if s.utf8.count <= lineLimit, !s.unicodeScalars.contains(where: { needsEscape($0, keepNewlines: false) }) { return s }
        return render(s, limit: lineLimit, quotes: false, keepNewlines: false)
    }

    /// Several lines (a usage text, a status report): `line` for each, newlines kept.
    public static func text(_ s: String) -> String {
        if s.utf8.count <= lineLimit, !s.unicodeScalars.contains(where: { needsEscape($0, keepNewlines: true) }) { return s }
        return s.split(separator: "\n", omittingEmptySubsequences: false).map { line(String($0)) }.joined(separator: "\n")
    }

    static func needsEscape(_ u: Unicode.Scalar, keepNewlines: Bool) -> Bool {
        switch u.value {
        case 0x0a: return !keepNewlines
        case 0x00...0x1f, 0x7f...0x9f: return true
        case 0x061c, 0x200e, 0x200f, 0x202a...0x202e, 0x2066...0x2069, 0x2028, 0x2029, 0xfeff: return true
        default: return false
        }
    }

    /// `\u001b`: JSON's spelling of a scalar of the Basic Multilingual Plane (all that
    /// `needsEscape` selects).
    static func escaped(_ u: Unicode.Scalar) -> String {
        let hex = String(u.value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    private static func render(_ s: String, limit: Int, quotes: Bool, keepNewlines: Bool) -> String {
        var out = ""
        var shown = 0
        for u in s.unicodeScalars {
            if shown == limit {
                out += "... (\(s.utf8.count) bytes)"
                return out
            }
            shown += 1
            if quotes && (u == "\"" || u == "\\") {
                out += "\\" + String(Character(u))
            } else if needsEscape(u, keepNewlines: keepNewlines) {
                out += escaped(u)
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }
}
