/// Why an answer was not used: `malformed` (what was wrong), an ID or question other than
/// the query's (a spoofed or stale answer), or a message that is not a response.
public enum DNSMessageError: Error, Equatable { case malformed(String), idMismatch, questionMismatch, notAResponse }
