/// A seeded, portable pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// Blacktail never uses the system's random source for results: a seed gives the same numbers on
/// every machine and in every Swift version. Everything it derives (doubles, ranges, shuffles,
/// normal deviates) uses integer and exactly rounded arithmetic only, so that stays true.
public struct SeededRandom: RandomNumberGenerator, Sendable, Hashable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var splitMix = seed
        func next() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (next(), next(), next(), next())
    }

    /// The generator's state, to save in a checkpoint and restore with ``init(state:)``.
    public var savedState: [UInt64] { [state.0, state.1, state.2, state.3] }

    public init?(state saved: [UInt64]) {
        guard saved.count == 4, saved.contains(where: { $0 != 0 }) else { return nil }
        state = (saved[0], saved[1], saved[2], saved[3])
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotate(state.3, 45)
        return result
    }

    private func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }

    /// A double in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// An integer in 0..<bound, without modulo bias (Lemire's method).
    public mutating func nextIndex(below bound: Int) -> Int {
        precondition(bound > 0, "the bound must be positive")
        let range = UInt64(bound)
        var product = next().multipliedFullWidth(by: range)
        if product.low < range {
            let threshold = (0 &- range) % range
            while product.low < threshold {
                product = next().multipliedFullWidth(by: range)
            }
        }
        return Int(product.high)
    }

    /// An approximately standard normal deviate: the sum of twelve uniforms, less six. Its
    /// tails stop at ±6; it uses no transcendental function, so every machine gives the same value.
    public mutating func nextNormal() -> Double {
        var sum = 0.0
        for _ in 0..<12 { sum += nextUnit() }
        return sum - 6
    }

    /// Shuffles in place (Fisher-Yates, from the end).
    ///
    /// Inlinable, so that callers in other modules get it specialised for their element type
    /// (training shuffles every epoch).
    @inlinable
    public mutating func shuffle<Element>(_ elements: inout [Element]) {
        guard elements.count > 1 else { return }
        for index in stride(from: elements.count - 1, to: 0, by: -1) {
            elements.swapAt(index, nextIndex(below: index + 1))
        }
    }

    public static func == (lhs: SeededRandom, rhs: SeededRandom) -> Bool { lhs.savedState == rhs.savedState }
    public func hash(into hasher: inout Hasher) { hasher.combine(savedState) }
}
