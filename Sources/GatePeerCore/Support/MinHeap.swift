/// A binary min-heap by `less` (the port sweep's active ranges).
struct MinHeap<Element> {
    private var items: [Element] = []
    private let less: (Element, Element) -> Bool
    init(less: @escaping (Element, Element) -> Bool) { self.less = less }

    var peek: Element? { items.first }

    mutating func push(_ x: Element) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var i = 0
        while true {
            let a = 2 * i + 1, b = a + 1
            var m = i
            if a < items.count, less(items[a], items[m]) { m = a }
            if b < items.count, less(items[b], items[m]) { m = b }
            if m == i { return }
            items.swapAt(i, m)
            i = m
        }
    }
}
