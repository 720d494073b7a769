/// Exit statuses: 0 done, 1 runtime failure (the kernel refused, a device is missing, a
/// file could not be written), 2 bad input or usage, 3 degraded (only `status`: drift not
/// repaired yet, blockers, a VPG gate peer down). Data goes to stdout, progress and
/// problems to stderr (Console).
enum Exit: Int32 { case ok = 0, runtime = 1, usage = 2, degraded = 3 }

/// A bad command line, and nothing else: an unknown command or option, a missing or
/// repeated value, an argument or option value a command cannot use. Exit 2 after the
/// message (each line prefixed "gatepeer: ") and `usage`. A failed system call is a
/// SystemError (exit 1), a state directory or lock gatepeer cannot use a StateError
/// (exit 1), a bad config file a ConfigError and a bad GATEPEER_* variable a
/// SettingError (exit 2), a request the kernel refused a KernelError (exit 1).
struct UsageError: Error {
    /// What is wrong, naming the word given and what is valid; one problem per line.
    let message: String
    /// The help text printed after it on stderr: the parser gives the command's (or the
    /// top one); a command that refuses a value says only what is wrong with it.
    var usage: String? = nil
}
