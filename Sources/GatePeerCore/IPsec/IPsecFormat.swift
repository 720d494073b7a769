/// The formats IPsecRender writes a site in (`--format`): strongSwan's swanctl.conf,
/// strongSwan's legacy ipsec.conf/ipsec.secrets, libreswan's ipsec.conf/ipsec.secrets,
/// or a parameter sheet for a person configuring a vendor router.
public enum IPsecFormat: String, Sendable, CaseIterable {
    case swanctl
    case strongswanLegacy = "strongswan-legacy"
    case libreswan
    case sheet
}
