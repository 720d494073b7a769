/// Words of shell commands gatepeer prints for a person to run.
public enum Shell {
    /// `s` as one POSIX shell word: in single quotes, each ' written as '\'' (the only
    /// character a single-quoted word cannot hold), so nothing in it is expanded or run.
    public static func quote(_ s: String) -> String {
        "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }
}
