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
    /// STATE and TYPE are read case-insensitively (keepalived passes them in upper case;
    /// `ha notify master` by hand means MASTER, as the usage text says); PRIORITY 0..255.
    /// Throws a message saying what is valid.
    public static func parse(_ args: [String]) throws(HAStateError) -> Notification {
        let valid = "valid: MASTER, BACKUP, FAULT, STOP, DELETED or MASTER_RX_LOWER_PRI (any case), alone or as keepalived passes them (GROUP|INSTANCE NAME STATE [PRIORITY])"
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
                    throw HAStateError(message: "priority \(Echo.quoted(args[3])) is not 0..255; valid: an integer 0..255 (the priority keepalived appends: the instance's, 0 for a sync group)")
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

extension HAState {
    /// What `gatepeer ha notify` last recorded in the state directory's `ha-state.json`
    /// (StateStore): the state keepalived told it, the group or instance with its priority
    /// when keepalived gave them, and when (the wall clock, CLOCK_REALTIME). The file is
    /// `{"state":"MASTER","type":"group","name":"gatepeer","priority":150,
    /// "time":"2026-12-02 16:40:03 UTC","unixTime":1796143203.25}`; type, name and
    /// priority are null for the short form (`gatepeer ha notify MASTER`).
    public struct Record: Equatable, Sendable {
        /// What keepalived passed.
        public var notification: Notification
        /// When it was recorded: seconds since the Unix epoch (wall clock).
        public var unixTime: Double

        /// A record of `notification` made at `unixTime` (seconds since the Unix epoch).
        public init(_ notification: Notification, unixTime: Double) {
            self.notification = notification
            self.unixTime = unixTime
        }

        /// The file's JSON object (type in lowercase, as in keepalived.conf).
        public var json: JSONOut {
            let n = notification
            return .object([
                "state": .string(n.state.rawValue),
                "type": n.type.map { .string($0.lowercased()) } ?? .null,
                "name": n.name.map { .string($0) } ?? .null,
                "priority": n.priority.map { .int(Int64($0)) } ?? .null,
                "time": .string(PeerStatus.utc(unixTime)),
                "unixTime": .double(unixTime),
            ])
        }

        /// "MASTER since 2026-12-02 16:40:03 UTC (group gatepeer, priority 150)".
        public var text: String {
            var out = "\(notification.state.rawValue) since \(PeerStatus.utc(unixTime))"
            if let t = notification.type, let n = notification.name {
                out += " (\(t.lowercased()) \(n)" + (notification.priority.map { ", priority \($0)" } ?? "") + ")"
            }
            return out
        }

        /// Reads `json`'s shape back. Throws HAStateError naming the field that is missing
        /// or wrong and what is valid.
        public static func parse(_ text: String) throws(HAStateError) -> Record {
            guard let doc = try? JSONReader.parse(text).0, case .object = doc else {
                throw HAStateError(message: "not a JSON object")
            }
            func string(_ key: String, optional: Bool) throws(HAStateError) -> String? {
                switch doc[key] {
                case .string(let s)?: return s
                case .null?, nil:
                    if optional { return nil }
                    throw HAStateError(message: "\(key): must be a string")
                default: throw HAStateError(message: "\(key): must be a string\(optional ? " or null" : "")")
                }
            }
            guard let raw = try string("state", optional: false), let state = HAState(rawValue: raw) else {
                throw HAStateError(message: "state: must be one of \(HAState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let type = try string("type", optional: true)?.uppercased()
            if let type, type != "GROUP", type != "INSTANCE" {
                throw HAStateError(message: "type: must be group, instance or null")
            }
            var priority: Int?
            switch doc["priority"] {
            case .number(let s)?:
                guard let p = Int(s), (0...255).contains(p) else { throw HAStateError(message: "priority: must be 0..255 or null") }
                priority = p
            case .null?, nil: priority = nil
            default: throw HAStateError(message: "priority: must be 0..255 or null")
            }
            guard case .number(let t)? = doc["unixTime"], let unix = Double(t), unix.isFinite else {
                throw HAStateError(message: "unixTime: must be a number (seconds since the Unix epoch)")
            }
            return Record(Notification(state: state, type: type, name: try string("name", optional: true), priority: priority), unixTime: unix)
        }
    }
}
