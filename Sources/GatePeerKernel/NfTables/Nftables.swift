import CNftables
import GatePeerCore
import Glibc

/// nft refused a command buffer (libnftables returned nonzero): its parser, its
/// evaluation, or the kernel behind it. libnftables reports text only, so there is no
/// errno here; nothing guesses one from the English.
///
/// `description`: "WHAT: MESSAGE", e.g. "nftables staging table: Error: Could not
/// process rule: No such file or directory | add rule inet ... | ^^^".
public struct NftablesError: Error, Sendable, CustomStringConvertible {
    /// What the commands were for ("nftables staging table").
    public let what: String
    /// The first line of the commands, at most 200 characters (a buffer can be megabytes).
    public let command: String
    /// nft's own error output, its first lines joined by " | " (it repeats the offending
    /// command under its message).
    public let message: String

    /// "WHAT: MESSAGE", e.g. "nftables staging table: Error: No such file or directory | ...".
    public var description: String { "\(what): \(message)" }
}

/// One long-lived libnftables context. Commands go in as text (one buffer is one
/// transaction: all of it or none of it); listings come back as JSON.
final class Nftables {
    private let ctx: OpaquePointer

    init() throws(NftablesError) {
        guard let c = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
            throw NftablesError(what: "nftables context", command: "", message: "nft_ctx_new failed")
        }
        ctx = c
        _ = nft_ctx_buffer_output(c)
        _ = nft_ctx_buffer_error(c)
    }

    deinit { nft_ctx_free(ctx) }

    /// Runs `commands` as one transaction; returns what nft printed. `json` asks for
    /// JSON output (listings). Throws `NftablesError` with nft's own message.
    @discardableResult
    func run(_ commands: String, what: String, json: Bool = false, dryRun: Bool = false) throws(NftablesError) -> String {
        nft_ctx_output_set_flags(ctx, json ? UInt32(NFT_CTX_OUTPUT_JSON) : 0)
        nft_ctx_set_dry_run(ctx, dryRun)
        defer { nft_ctx_set_dry_run(ctx, false) }
        let rc = nft_run_cmd_from_buffer(ctx, commands)
        let output = nft_ctx_get_output_buffer(ctx).map { String(cString: $0) } ?? ""
        let error = nft_ctx_get_error_buffer(ctx).map { String(cString: $0) } ?? ""
        if rc != 0 {
            let first = commands.prefix { $0 != "\n" }.prefix(200)
            throw NftablesError(what: what, command: String(first), message: Nftables.firstLines(error))
        }
        return output
    }

    /// nft repeats the offending command under its message; the first lines say it all.
    static func firstLines(_ s: String) -> String {
        s.split(separator: "\n").prefix(6).joined(separator: " | ")
    }
}
