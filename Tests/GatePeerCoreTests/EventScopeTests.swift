import GatePeerCore
import XCTest

/// EventScope: which kernel events wake the reconcile (see its doc comment).
final class EventScopeTests: XCTestCase {
    let config: GatePeerConfig = {
        let text = """
        {"forwarding": true, "links": [{"name": "gp0", "vxlanId": 10, "underlayDevice": "eth0", "outerIpAddress": "172.31.0.254",
         "innerIpAddress": "10.255.255.254/9", "peers": [{"outerIpAddress": "100.64.152.4"}],
         "routes": [{"destination": "192.168.10.0/24", "via": "10.129.3.7"}]}]}
        """
        guard case .success(let c) = ConfigDecoder.decode(bytes: Array(text.utf8)) else { fatalError("test config does not decode") }
        return c
    }()
    // 1 lo, 2 eth0 (underlay), 3 gp0 (ours), 4 eth9 (someone else's)
    lazy var scope = EventScope(config: config, names: [1: "lo", 2: "eth0", 3: "gp0", 4: "eth9"])

    func prefix(_ s: String) -> IPPrefix { IPPrefix(s)! }

    func testLinksOfOursAndUnderlaysMatterOthersDoNot() {
        XCTAssertTrue(scope.take(.link(ObservedLink(index: 3, name: "gp0"), deleted: true)))
        XCTAssertTrue(scope.take(.link(ObservedLink(index: 2, name: "eth0", mtu: 9000), deleted: false)))
        XCTAssertFalse(scope.take(.link(ObservedLink(index: 4, name: "eth9"), deleted: false)))
        // A rename of ours matters under its old name, and the table follows it.
        XCTAssertTrue(scope.take(.link(ObservedLink(index: 5, name: "gp0"), deleted: false)))
        XCTAssertTrue(scope.take(.link(ObservedLink(index: 5, name: "renamed"), deleted: false)))
        XCTAssertFalse(scope.take(.address(ObservedAddress(linkIndex: 5, prefix: prefix("10.0.0.1/8")), deleted: false)))
        // The deleted gp0's index no longer counts as ours.
        XCTAssertFalse(scope.take(.route(ObservedRoute(protocolNumber: 2, destination: prefix("10.0.0.0/8"), gateway: nil, outputIndex: 3), deleted: false)))
    }

    func testAddressesOnOurDevicesAndUnderlays() {
        XCTAssertTrue(scope.take(.address(ObservedAddress(linkIndex: 3, prefix: prefix("10.255.255.254/9")), deleted: true)))
        XCTAssertTrue(scope.take(.address(ObservedAddress(linkIndex: 2, prefix: prefix("172.31.0.254/24")), deleted: true)))
        XCTAssertFalse(scope.take(.address(ObservedAddress(linkIndex: 4, prefix: prefix("192.0.2.1/24")), deleted: false)))
    }

    func testRoutesWithOurProtocolOrThroughOurDevice() {
        XCTAssertTrue(scope.take(.route(ObservedRoute(protocolNumber: 201, destination: prefix("192.168.10.0/24"), gateway: nil, outputIndex: 4), deleted: true)))
        XCTAssertTrue(scope.take(.route(ObservedRoute(protocolNumber: 4, destination: prefix("192.168.20.0/24"), gateway: nil, outputIndex: 3), deleted: false)))
        XCTAssertFalse(scope.take(.route(ObservedRoute(protocolNumber: 4, destination: prefix("10.20.0.1/32"), gateway: nil, outputIndex: 4), deleted: false)))
        XCTAssertFalse(scope.take(.route(ObservedRoute(protocolNumber: 4, destination: prefix("10.20.0.1/32"), gateway: nil, outputIndex: nil), deleted: false)))
    }

    /// Field fault (review of issue 12): `ip route replace 192.168.10.0/24 dev eth9` (a
    /// foreign protocol, a foreign device) took our LAN's destination without waking the
    /// reconcile, so the blocker appeared only at the resync. A configured destination
    /// (a LAN route, the inner network) matters on any device, whoever's route it is.
    func testConfiguredDestinationsMatterOnAnyDevice() {
        XCTAssertTrue(scope.take(.route(ObservedRoute(protocolNumber: 4, destination: prefix("192.168.10.0/24"), gateway: nil, outputIndex: 4), deleted: false)))
        XCTAssertTrue(scope.take(.route(ObservedRoute(protocolNumber: 3, destination: prefix("10.128.0.0/9"), gateway: IPAddress("172.31.0.1"), outputIndex: 2), deleted: false)))
        XCTAssertTrue(scope.take(.route(ObservedRoute(protocolNumber: 4, destination: prefix("192.168.10.0/24"), gateway: nil, outputIndex: nil), deleted: true)))
        // A longer prefix inside it takes part of it (the planner's shadowing blocker);
        // a shorter one around it takes nothing.
        XCTAssertTrue(scope.take(.route(ObservedRoute(protocolNumber: 4, destination: prefix("192.168.10.0/25"), gateway: nil, outputIndex: 4), deleted: false)))
        XCTAssertTrue(scope.take(.route(ObservedRoute(protocolNumber: 3, destination: prefix("10.128.0.11/32"), gateway: nil, outputIndex: 2), deleted: false)))
        XCTAssertFalse(scope.take(.route(ObservedRoute(protocolNumber: 4, destination: prefix("192.168.0.0/16"), gateway: nil, outputIndex: 4), deleted: false)))
        // A reload takes the new config's destinations.
        var c = config
        c.links[0].routes[0].destination = prefix("192.168.30.0/24")
        scope.configure(c)
        XCTAssertFalse(scope.take(.route(ObservedRoute(protocolNumber: 4, destination: prefix("192.168.10.0/24"), gateway: nil, outputIndex: 4), deleted: false)))
        XCTAssertTrue(scope.take(.route(ObservedRoute(protocolNumber: 4, destination: prefix("192.168.30.0/24"), gateway: nil, outputIndex: 4), deleted: false)))
    }

    /// A message of a subscribed kind that the codecs could not read may have been about
    /// our objects: it wakes the reconcile (an unknown type does not).
    func testUndecodableMessagesMatter() {
        XCTAssertTrue(scope.take(.undecodable(type: 24)))  // RTM_NEWROUTE
        XCTAssertFalse(scope.take(.other(type: 99)))
    }

    func testFDBPermanentAndAllZeroMatterLearnedDoNot() {
        let mac = MACAddress(bytes: [0x02, 0, 0, 0, 0, 1])!
        let peer = IPAddress("100.64.152.4")!
        XCTAssertTrue(scope.take(.fdb(ObservedFDBEntry(linkIndex: 3, mac: .zero, destination: peer, permanent: true), deleted: true)))
        XCTAssertTrue(scope.take(.fdb(ObservedFDBEntry(linkIndex: 3, mac: mac, destination: peer, permanent: true), deleted: false)))
        for state: UInt16 in [0x02, 0x04] {  // NUD_REACHABLE, NUD_STALE
            let learned = ObservedFDBEntry(linkIndex: 3, mac: mac, destination: peer, state: state, flags: 0x02, port: nil, vni: nil, sourceVNI: nil, outgoingIndex: nil)
            XCTAssertFalse(scope.take(.fdb(learned, deleted: false)))
            XCTAssertFalse(scope.take(.fdb(learned, deleted: true)))
        }
        XCTAssertFalse(scope.take(.fdb(ObservedFDBEntry(linkIndex: 4, mac: .zero, destination: peer, permanent: true), deleted: true)))
        XCTAssertFalse(scope.take(.neighbour(linkIndex: 3)))
    }

    func testNetconfOfOurDeviceOrAll() {
        XCTAssertTrue(scope.take(.netconf(linkIndex: 3)))
        XCTAssertTrue(scope.take(.netconf(linkIndex: KernelEvent.netconfAll)))
        XCTAssertFalse(scope.take(.netconf(linkIndex: KernelEvent.netconfDefault)))
        XCTAssertFalse(scope.take(.netconf(linkIndex: 4)))
    }

    func testOnlyOurNftTable() {
        XCTAssertTrue(scope.take(.nftables(table: "gatepeer", family: KernelEvent.nfprotoInet, deleted: true)))
        XCTAssertFalse(scope.take(.nftables(table: "gatepeer", family: 2, deleted: true)))  // table ip gatepeer
        XCTAssertFalse(scope.take(.nftables(table: "filter", family: KernelEvent.nfprotoInet, deleted: false)))
        XCTAssertFalse(scope.take(.nftables(table: nil, family: 0, deleted: false)))
        XCTAssertFalse(scope.take(.other(type: 99)))
    }

    func testReloadChangesWhatIsOurs() {
        var c = config
        c.links[0].name = "gp1"
        scope.configure(c)
        XCTAssertFalse(scope.take(.netconf(linkIndex: 3)))
        XCTAssertTrue(scope.take(.link(ObservedLink(index: 6, name: "gp1"), deleted: false)))
        XCTAssertTrue(scope.take(.netconf(linkIndex: 6)))
    }
}
