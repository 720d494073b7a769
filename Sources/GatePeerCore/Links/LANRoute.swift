/// A LAN behind a device: `destination` is reached via the device's address.
public struct LANRoute: Equatable, Hashable, Sendable {
    public var destination: IPPrefix
    public var via: IPAddress
    public init(destination: IPPrefix, via: IPAddress) {
        self.destination = destination
        self.via = via
    }
}
