/// Which end of a site a render is for (`--side`): `local`, this peer; `remote`, the
/// other end (the site mirrored).
public enum IPsecSide: String, Sendable, CaseIterable { case local, remote }
