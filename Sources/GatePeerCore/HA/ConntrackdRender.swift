/// conntrackd.conf for this node (`gatepeer ha render --conntrackd`): conntrack-tools
/// 1.4.7 (Debian 12) syntax, FTFW mode (reliable: lost sync messages are resent) over UDP
/// unicast between the two nodes' own addresses on the VRRP interface (clouds carry no
/// multicast). Modelled on conntrack-tools' doc/sync/ftfw/conntrackd.conf; LockFile and
/// the UNIX socket are `ha.conntrackd.lockFile`/`socketPath` (Debian's paths by default;
/// two conntrackd on one machine need their own). The tests start conntrackd on the
/// rendered file in a namespace of their own.
public enum ConntrackdRender {
    /// The file for this node of `config` (whose `ha.conntrackd` is set).
    public static func render(_ config: GatePeerConfig, _ ha: HAConfig, _ c: HAConfig.Conntrackd, configPath: String) -> String {
        let v = ha.nodeAddress.family == .v4 ? "IPv4" : "IPv6"
        // Flows of the nodes themselves and of the moving addresses are the hosts' own,
        // not forwarded device traffic: not worth a sync message.
        var ignore: [IPAddress] = [ha.nodeAddress.family == .v4 ? IPAddress("127.0.0.1")! : IPAddress("::1")!,
                                   ha.nodeAddress.address, ha.peerAddress]
        // Not the floating SNAT address: the devices' NATed flows are what is synced
        // (conntrackd's filter tests the original source and the reply source, so it would
        // only drop flows the node opens from it; it is left out to say so plainly).
        for a in ha.movingAddresses(links: config.links) where !ignore.contains(a.prefix.address) && a != ha.snat { ignore.append(a.prefix.address) }
        var out: [String] = []
        out.append("# conntrackd.conf for gatepeer node \(ha.nodeAddress.address) (peer \(ha.peerAddress)): FTFW over UDP unicast")
        out.append("# rendered by `gatepeer ha render --conntrackd -c \(configPath)`; gatepeer ha notify runs conntrackd -C \(c.configPath) -c/-f/-R/-B on MASTER")
        out.append("Sync {")
        out.append("\tMode FTFW {")
        out.append("\t\tDisableExternalCache off")
        out.append("\t}")
        out.append("\tUDP {")
        out.append("\t\t\(v)_address \(ha.nodeAddress.address)")
        out.append("\t\t\(v)_Destination_Address \(ha.peerAddress)")
        out.append("\t\tPort \(c.port)")
        out.append("\t\tInterface \(ha.interface)")
        out.append("\t\tSndSocketBuffer 1249280")
        out.append("\t\tRcvSocketBuffer 1249280")
        out.append("\t\tChecksum on")
        out.append("\t}")
        out.append("}")
        out.append("General {")
        out.append("\tHashSize 32768")
        out.append("\tHashLimit 131072")
        out.append("\tLogFile off")
        out.append("\tSyslog on")
        out.append("\tLockFile \(c.lockFile)")
        out.append("\tUNIX {")
        out.append("\t\tPath \(c.socketPath)")
        out.append("\t}")
        out.append("\tNetlinkBufferSize 2097152")
        out.append("\tNetlinkBufferSizeMaxGrowth 8388608")
        out.append("\tNetlinkOverrunResync on")
        out.append("\tFilter From Userspace {")
        out.append("\t\tProtocol Accept {")
        out.append("\t\t\tTCP")
        out.append("\t\t\tUDP")
        out.append("\t\t\tICMP")
        out.append("\t\t\tIPv6-ICMP")
        out.append("\t\t}")
        out.append("\t\tAddress Ignore {")
        for a in ignore { out.append("\t\t\t\(a.family == .v4 ? "IPv4" : "IPv6")_address \(a)") }
        out.append("\t\t}")
        out.append("\t}")
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }
}
