/// Which prefixes overlap which, for n prefixes in O(n log n) instead of comparing every
/// pair: a config repeating one link 8,000 times made 32 million pairwise checks and as
/// many problems (issue 10 item 6).
///
/// Prefixes nest or are disjoint (a laminar family), so after sorting by first address
/// (shorter first on ties) a stack holds exactly the prefixes containing the current one,
/// and the ones it contains are those pushed while it is on the stack.
enum PrefixOverlap {
    /// One prefix of a sweep. `owner`: whom a problem names (a link's index); `member`:
    /// whether it is one of the prefixes being overlapped (the others only ask).
    struct Item {
        let prefix: IPPrefix
        let owner: Int
        let member: Bool
    }

    /// The two smallest distinct owners seen: enough to name the first owner other than
    /// any one given owner.
    struct FirstOwners {
        private(set) var a = Int.max, b = Int.max
        mutating func add(_ x: Int) {
            if x == a || x == b || x >= b { return }
            if x < a { b = a; a = x } else { b = x }
        }
        mutating func add(_ o: FirstOwners) { add(o.a); add(o.b) }
        /// The smallest owner other than `owner`.
        func first(except owner: Int) -> Int? {
            let x = a != owner ? a : b
            return x == Int.max ? nil : x
        }
    }

    /// For each item (same order as `items`): the smallest owners of member prefixes that
    /// overlap it (contain it, are contained in it, or equal it), itself included when it
    /// is a member.
    static func owners(_ items: [Item]) -> [FirstOwners] {
        var result = [FirstOwners](repeating: FirstOwners(), count: items.count)
        let order = items.indices.sorted { x, y in
            let p = items[x].prefix.network, q = items[y].prefix.network
            return (p.address, p.length, x) < (q.address, q.length, y)
        }
        // Per stacked item: owners among it and the members containing it, and owners among
        // the members inside it (filled as they are popped).
        var stack: [(item: Int, last: IPAddress, above: FirstOwners, inside: FirstOwners)] = []
        func pop() {
            let top = stack.removeLast()
            result[top.item].add(top.inside)
            if !stack.isEmpty { stack[stack.count - 1].inside.add(top.inside) }
        }
        for k in order {
            let p = items[k].prefix.network
            while let top = stack.last, !(top.last.family == p.family && !(top.last < p.address)) { pop() }
            var above = stack.last?.above ?? FirstOwners()
            result[k] = above
            var inside = FirstOwners()
            if items[k].member { above.add(items[k].owner); inside.add(items[k].owner) }
            stack.append((k, p.lastAddress, above, inside))
        }
        while !stack.isEmpty { pop() }
        return result
    }
}
