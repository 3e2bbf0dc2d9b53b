/// Graph algorithms over step and node dependencies, iterative so that a 100,000-step chain does
/// not exhaust the stack.
enum DependencyGraph {
    /// The cycles among `order`'s vertices: one path per strongly connected component that has a
    /// cycle, starting at its first vertex in `order` and following edges in `order`.
    static func cycles(order: [String], edges: [String: [String]]) -> [[String]] {
        let index = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let successors: [[Int]] = order.map { vertex in
            (edges[vertex] ?? []).compactMap { index[$0] }.sorted()
        }
        let components = stronglyConnectedComponents(successors)
        var cycles: [[String]] = []
        for component in components where component.count > 1 {
            let members = Set(component)
            let start = component.min()!
            // Breadth-first from the start back to itself, inside the component: the shortest cycle.
            var previous: [Int: Int] = [:]
            var queue = [start]
            var head = 0
            var closing: Int?
            search: while head < queue.count {
                let vertex = queue[head]
                head += 1
                for next in successors[vertex] where members.contains(next) {
                    if next == start {
                        closing = vertex
                        break search
                    }
                    if previous[next] == nil {
                        previous[next] = vertex
                        queue.append(next)
                    }
                }
            }
            guard var vertex = closing else { continue }
            var path = [vertex]
            while vertex != start {
                vertex = previous[vertex]!
                path.append(vertex)
            }
            cycles.append(path.reversed().map { order[$0] })
        }
        return cycles.sorted { index[$0[0]]! < index[$1[0]]! }
    }

    /// Tarjan's algorithm without recursion.
    static func stronglyConnectedComponents(_ successors: [[Int]]) -> [[Int]] {
        let count = successors.count
        var indices = [Int](repeating: -1, count: count)
        var lowLinks = [Int](repeating: 0, count: count)
        var onStack = [Bool](repeating: false, count: count)
        var stack: [Int] = []
        var components: [[Int]] = []
        var nextIndex = 0
        for root in 0..<count where indices[root] < 0 {
            var work: [(vertex: Int, edge: Int)] = [(root, 0)]
            indices[root] = nextIndex
            lowLinks[root] = nextIndex
            nextIndex += 1
            stack.append(root)
            onStack[root] = true
            while let (vertex, edge) = work.last {
                if edge < successors[vertex].count {
                    work[work.count - 1].edge += 1
                    let next = successors[vertex][edge]
                    if indices[next] < 0 {
                        indices[next] = nextIndex
                        lowLinks[next] = nextIndex
                        nextIndex += 1
                        stack.append(next)
                        onStack[next] = true
                        work.append((next, 0))
                    } else if onStack[next] {
                        lowLinks[vertex] = min(lowLinks[vertex], indices[next])
                    }
                } else {
                    work.removeLast()
                    if let parent = work.last?.vertex {
                        lowLinks[parent] = min(lowLinks[parent], lowLinks[vertex])
                    }
                    if lowLinks[vertex] == indices[vertex] {
                        var component: [Int] = []
                        while true {
                            let member = stack.removeLast()
                            onStack[member] = false
                            component.append(member)
                            if member == vertex { break }
                        }
                        components.append(component)
                    }
                }
            }
        }
        return components
    }

    /// Kahn's algorithm, taking among the ready vertices always the one that comes first in the
    /// input, so the order is fully determined by the file. The graph must be acyclic.
    static func topologicalOrder(count: Int, dependencies: [[Int]]) -> [Int] {
        var remaining = dependencies.map(\.count)
        var dependants = [[Int]](repeating: [], count: count)
        for (vertex, needs) in dependencies.enumerated() {
            for need in needs { dependants[need].append(vertex) }
        }
        var ready = MinHeap()
        for vertex in 0..<count where remaining[vertex] == 0 { ready.push(vertex) }
        var order: [Int] = []
        order.reserveCapacity(count)
        while let vertex = ready.pop() {
            order.append(vertex)
            for dependant in dependants[vertex] {
                remaining[dependant] -= 1
                if remaining[dependant] == 0 { ready.push(dependant) }
            }
        }
        return order
    }
}

/// A binary min-heap of ints.
struct MinHeap {
    private var items: [Int] = []

    mutating func push(_ value: Int) {
        items.append(value)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Int? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count, items[left] < items[smallest] { smallest = left }
                if right < items.count, items[right] < items[smallest] { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }
}
