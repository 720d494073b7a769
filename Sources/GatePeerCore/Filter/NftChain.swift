/// A chain: a base chain when it has a hook, else reached by jump or goto only.
public struct NftChain: Equatable, Sendable {
    /// Where a base chain is registered.
    public struct Hook: Equatable, Sendable {
        /// `filter` or `nat`.
        public var type: String
        /// `forward`, `input`, `postrouting`.
        public var hook: String
        /// nft's named priority (`filter` 0, `mangle` -150, `srcnat` 100).
        public var priority: String
        /// What a packet that no rule decides gets.
        public var policy: String

        /// Defaults: a filter chain whose policy accepts.
        public init(type: String = "filter", hook: String, priority: String, policy: String = "accept") {
            self.type = type
            self.hook = hook
            self.priority = priority
            self.policy = policy
        }
    }

    /// The chain's name in the table (NftNames).
    public var name: String
    /// Where a base chain is registered; nil for a regular chain (jump/goto only).
    public var hook: Hook?
    /// The rules in order, each as nft text.
    public var rules: [String]

    /// A regular chain unless `hook` is given; `rules` as nft text.
    public init(_ name: String, hook: Hook? = nil, rules: [String] = []) {
        self.name = name
        self.hook = hook
        self.rules = rules
    }

    func write(to out: inout String) {
        out += "  chain \(name) {\n"
        if let h = hook { out += "    type \(h.type) hook \(h.hook) priority \(h.priority); policy \(h.policy);\n" }
        for r in rules { out += "    " + r + "\n" }
        out += "  }\n"
    }
}
