/// The state keepalived reports to a `notify` script, and what `gatepeer ha notify`
/// accepts: the state alone, or keepalived's form TYPE NAME STATE [PRIORITY]
/// (keepalived.conf(5): TYPE is GROUP or INSTANCE, STATE in uppercase).
public enum HAState: String, Equatable, Sendable, CaseIterable {
    /// This node now holds the addresses.
    case master = "MASTER"
    /// The other node holds them (or nobody yet); keepalived has removed ours.
    case backup = "BACKUP"
    /// A tracked script or interface failed: the addresses are given up.
    case fault = "FAULT"
    /// keepalived stops.
    case stop = "STOP"
    /// The instance was removed by a keepalived reload.
    case deleted = "DELETED"
    /// The master heard a lower priority (`notify_master_rx_lower_pri`, rendered with a
    /// cloud hook): after a split both may have claimed the floating address, so the
    /// master announces and runs its hook again.
    case masterReclaim = "MASTER_RX_LOWER_PRI"

    /// What keepalived passed: the state, and the group or instance it is about when given.
    public struct Notification: Equatable, Sendable {
        /// The new state.
        public var state: HAState
        /// "GROUP" or "INSTANCE", nil for the short form.
        public var type: String?
        /// The group's or instance's name, nil for the short form.
        public var name: String?
        /// The priority keepalived appended, when it did.
        public var priority: Int?
        /// A notification as `parse` reads it.
        public init(state: HAState, type: String? = nil, name: String? = nil, priority: Int? = nil) {
            self.state = state
            self.type = type
            self.name = name
            self.priority = priority
        }
    }

    /// The arguments of `gatepeer ha notify`: `STATE`, or `TYPE NAME STATE [PRIORITY]`.
    /// Throws a message saying what is valid.
    public static func parse(_ args: [String]) throws(HAStateError) -> Notification {
        let valid = "valid: MASTER, BACKUP, FAULT, STOP, DELETED or MASTER_RX_LOWER_PRI, alone or as keepalived passes them (GROUP|INSTANCE NAME STATE [PRIORITY])"
        func state(_ s: String) throws(HAStateError) -> HAState {
            guard let st = HAState(rawValue: s.uppercased()) else { throw HAStateError(message: "\(Echo.quoted(s)) is not a state; \(valid)") }
            return st
        }
        switch args.count {
        case 1:
            return Notification(state: try state(args[0]))
        case 3, 4:
            let type = args[0].uppercased()
            guard type == "GROUP" || type == "INSTANCE" else {
                throw HAStateError(message: "\(Echo.quoted(args[0])) is not GROUP or INSTANCE; \(valid)")
            }
            var priority: Int? = nil
            if args.count == 4 {
                guard let p = Int(args[3]), (0...255).contains(p) else {
                    throw HAStateError(message: "priority \(Echo.quoted(args[3])) is not 0..255; \(valid)")
                }
                priority = p
            }
            return Notification(state: try state(args[2]), type: type, name: args[1], priority: priority)
        default:
            throw HAStateError(message: "takes 1, 3 or 4 arguments, got \(args.count); \(valid)")
        }
    }
}

/// Why `gatepeer ha notify`'s arguments cannot be used (bad input, exit 2).
public struct HAStateError: Error, Equatable {
    /// What is wrong and what is valid.
    public let message: String
}
