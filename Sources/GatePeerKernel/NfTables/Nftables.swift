import CNftables
import GatePeerCore
import Glibc

/// One long-lived libnftables context. Commands go in as text (one buffer is one
/// transaction: all of it or none of it); listings come back as JSON.
final class Nftables {
    private let ctx: OpaquePointer

    init() throws {
        guard let c = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
            throw KernelError(object: "nftables context", errno: ENOMEM)
        }
        ctx = c
        _ = nft_ctx_buffer_output(c)
        _ = nft_ctx_buffer_error(c)
    }

    deinit { nft_ctx_free(ctx) }

    /// Runs `commands` as one transaction; returns what nft printed. `json` asks for
    /// JSON output (listings). A refusal carries nft's own message.
    @discardableResult
    func run(_ commands: String, what: String, json: Bool = false, dryRun: Bool = false) throws -> String {
        nft_ctx_output_set_flags(ctx, json ? UInt32(NFT_CTX_OUTPUT_JSON) : 0)
        nft_ctx_set_dry_run(ctx, dryRun)
        defer { nft_ctx_set_dry_run(ctx, false) }
        let rc = nft_run_cmd_from_buffer(ctx, commands)
        let output = nft_ctx_get_output_buffer(ctx).map { String(cString: $0) } ?? ""
        let error = nft_ctx_get_error_buffer(ctx).map { String(cString: $0) } ?? ""
        if rc != 0 {
            let errnoValue = error.contains("No such file or directory") ? ENOENT : (error.contains("Operation not permitted") ? EPERM : EINVAL)
            throw KernelError(object: what, errno: errnoValue, kernelMessage: Nftables.firstLines(error))
        }
        return output
    }

    /// nft repeats the offending command under its message; the first lines say it all.
    static func firstLines(_ s: String) -> String {
        s.split(separator: "\n").prefix(6).joined(separator: " | ")
    }
}
