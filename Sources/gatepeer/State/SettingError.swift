/// A bad GATEPEER_* environment variable: bad input, like a bad config file, so exit 2
/// before any command acts (Settings.check), never a fallback to the default. The
/// message names the variable, the value given (Echo.quoted) and what is valid, e.g.
/// `GATEPEER_LOCK_WAIT="soon" is not a number of seconds; valid: 0 to 86400, ...`.
struct SettingError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
