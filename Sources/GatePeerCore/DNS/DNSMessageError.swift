public enum DNSMessageError: Error, Equatable { case malformed(String), idMismatch, questionMismatch, notAResponse }
