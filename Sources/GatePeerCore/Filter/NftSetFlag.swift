/// A set flag (NFT_SET_INTERVAL, NFT_SET_TIMEOUT).
public enum NftSetFlag: String, Equatable, Sendable {
    case interval
    case timeout
}
