public import BlacktailData
import BlacktailNumerics

/// Features quantised into at most 255 bins each, what the tree learners search for splits.
///
/// A feature's bin edges (`thresholds`) come from the quantiles of its values in the training rows
/// (in a seeded sample of them when there are more than `sampleSize`): with no more distinct values
/// than bins, the edges are the midpoints between consecutive distinct values, so every value has a
/// bin of its own; otherwise the edges are scikit-learn's (percentiles, midpoint interpolation,
/// duplicates removed). A value goes to the first bin whose edge is at least the value, or to the
/// last bin, so "bin <= b" and "value <= thresholds[b]" select the same rows, and a tree learned on
/// bins predicts on raw features. NaN compares false with every edge, so it goes to the last bin,
/// and a split sends it right; NaN is also left out of the quantiles.
///
/// The codes are stored column after column, one byte each: building a histogram for a feature
/// reads one contiguous column.
public struct BinnedFeatures: Sendable {
    public let rowCount: Int
    public let featureCount: Int
    /// Each feature's bin edges, strictly increasing; the feature has one bin more than edges.
    public let thresholds: [[Float]]
    /// The bin of feature f of row r at `f * rowCount + r`.
    public let codes: [UInt8]

    /// Bins the rows at `rows` (indices into `dataset`'s rows; all of them when nil), in that order.
    ///
    /// - Parameters:
    ///   - maxBins: bins per feature at most, 2 to 255.
    ///   - sampleSize: rows the quantiles are taken from at most, drawn with `seed`.
    ///   - threads: parts the work is split into; the result does not depend on it.
    public init(_ dataset: Dataset, rows: [Int]? = nil, maxBins: Int = 255, sampleSize: Int = 200_000, seed: UInt64 = 0, threads: Int = 1) {
        precondition((2...255).contains(maxBins), "between 2 and 255 bins")
        let width = dataset.featureCount
        let selected = rows ?? Array(0..<dataset.rowCount)
        let count = selected.count
        rowCount = count
        featureCount = width

        var sample = selected
        if count > sampleSize {
            var random = SeededRandom(seed: seed)
            for index in 0..<sampleSize { sample.swapAt(index, index + random.nextIndex(below: count - index)) }
            sample = Array(sample[0..<sampleSize]).sorted()
        }
        let sampleRows = sample
        let sampleCount = sampleRows.count
        // The sample, column after column as sortable keys, copied in blocks of rows so that both
        // the reads and the writes stay in the cache.
        var keys = [UInt32](repeating: 0, count: sampleCount * width)
        let transposeBlock = 256
        keys.withUnsafeMutableBufferPointer { keyPointer in
            nonisolated(unsafe) let keysOut = keyPointer
            dataset.features.withUnsafeBufferPointer { source in
                nonisolated(unsafe) let values = source
                // Each part writes only its own rows of every column.
                Parallel.forEachPart((sampleCount + transposeBlock - 1) / transposeBlock, parts: threads) { _, blocks in
                    for block in blocks {
                        let first = block * transposeBlock
                        let last = min(sampleCount, first + transposeBlock)
                        for feature in 0..<width {
                            for position in first..<last {
                                keysOut[feature * sampleCount + position] = Self.sortKey(values[sampleRows[position] * width + feature])
                            }
                        }
                    }
                }
            }
        }
        var edges = [[Float]](repeating: [], count: width)
        edges.withUnsafeMutableBufferPointer { edgePointer in
            keys.withUnsafeMutableBufferPointer { keyPointer in
                nonisolated(unsafe) let edgesOut = edgePointer
                nonisolated(unsafe) let allKeys = keyPointer
                // Each part sorts and writes only its own features.
                Parallel.forEachPart(width, parts: threads) { _, features in
                    var scratch = [UInt32](repeating: 0, count: sampleCount)
                    var column = [Float]()
                    column.reserveCapacity(sampleCount)
                    for feature in features {
                        let featureKeys = UnsafeMutableBufferPointer(rebasing: allKeys[(feature * sampleCount)..<((feature + 1) * sampleCount)])
                        scratch.withUnsafeMutableBufferPointer { Self.radixSort(featureKeys, scratch: $0) }
                        column.removeAll(keepingCapacity: true)
                        for key in featureKeys {
                            let value = Self.value(ofSortKey: key)
                            if !value.isNaN { column.append(value) }
                        }
                        edgesOut[feature] = Self.edges(sorted: column, maxBins: maxBins)
                    }
                }
            }
        }
        keys = []
        let finalEdges = edges
        thresholds = finalEdges

        var binned = [UInt8](repeating: 0, count: count * width)
        let blockRows = 2048
        let blocks = (count + blockRows - 1) / blockRows
        binned.withUnsafeMutableBufferPointer { codePointer in
            nonisolated(unsafe) let codesOut = codePointer
            dataset.features.withUnsafeBufferPointer { source in
                nonisolated(unsafe) let values = source
                // Blocks of rows, so that each block's features stay in the cache while every
                // column is written; each part writes only its own rows.
                Parallel.forEachPart(blocks, parts: threads) { _, blockRange in
                    for block in blockRange {
                        let first = block * blockRows
                        let last = min(count, first + blockRows)
                        for feature in 0..<width {
                            finalEdges[feature].withUnsafeBufferPointer { featureEdges in
                                let column = codesOut.baseAddress! + feature * count
                                for position in first..<last {
                                    column[position] = Self.bin(of: values[selected[position] * width + feature], edges: featureEdges)
                                }
                            }
                        }
                    }
                }
            }
        }
        codes = binned
    }

    /// The number of bins of a feature.
    public func binCount(_ feature: Int) -> Int { thresholds[feature].count + 1 }

    /// The bin of a value: the first whose edge is at least the value, or the last (for NaN too).
    @inline(__always)
    static func bin(of value: Float, edges: UnsafeBufferPointer<Float>) -> UInt8 {
        var low = 0
        var high = edges.count
        while low < high {
            let middle = (low + high) / 2
            if value <= edges[middle] { high = middle } else { low = middle + 1 }
        }
        return UInt8(truncatingIfNeeded: low)
    }

    /// A float's bits, ordered as the floats are (negative NaNs first, positive NaNs last).
    @inline(__always)
    static func sortKey(_ value: Float) -> UInt32 {
        let bits = value.bitPattern
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    @inline(__always)
    static func value(ofSortKey key: UInt32) -> Float {
        Float(bitPattern: key & 0x8000_0000 != 0 ? key & 0x7FFF_FFFF : ~key)
    }

    /// Sorts keys ascending: a least-significant-digit radix sort, three passes of 11 bits, each
    /// skipped when every key has the same digit.
    static func radixSort(_ keys: UnsafeMutableBufferPointer<UInt32>, scratch: UnsafeMutableBufferPointer<UInt32>) {
        let buckets = 2048
        var counts = [Int](repeating: 0, count: 3 * buckets)
        for key in keys {
            counts[Int(key & 0x7FF)] += 1
            counts[buckets + Int((key >> 11) & 0x7FF)] += 1
            counts[2 * buckets + Int(key >> 22)] += 1
        }
        var source = keys
        var target = scratch
        for pass in 0..<3 {
            let base = pass * buckets
            if counts[base..<(base + buckets)].contains(keys.count) { continue }
            var offset = 0
            for bucket in 0..<buckets {
                let count = counts[base + bucket]
                counts[base + bucket] = offset
                offset += count
            }
            let shift = UInt32(pass * 11)
            for key in source {
                let bucket = base + Int((key >> shift) & 0x7FF)
                target[counts[bucket]] = key
                counts[bucket] += 1
            }
            swap(&source, &target)
        }
        if source.baseAddress != keys.baseAddress { _ = keys.update(fromContentsOf: source) }
    }

    /// Bin edges from a feature's sorted values (no NaN).
    static func edges(sorted values: [Float], maxBins: Int) -> [Float] {
        guard let first = values.first else { return [] }
        var distinct: [Float] = [first]
        for value in values.dropFirst() where value != distinct[distinct.count - 1] {
            distinct.append(value)
            if distinct.count > maxBins { break }
        }
        var edges: [Float] = []
        if distinct.count <= maxBins {
            for index in 1..<distinct.count {
                let (below, above) = (distinct[index - 1], distinct[index])
                let middle = Float((Double(below) + Double(above)) / 2)
                // A midpoint that rounds up to the value above would put that value in the bin below.
                edges.append(middle < above ? middle : below)
            }
        } else {
            let last = Double(values.count - 1)
            for step in 1..<maxBins {
                let position = Double(step) / Double(maxBins) * last
                let value = (Double(values[Int(position.rounded(.down))]) + Double(values[Int(position.rounded(.up))])) / 2
                edges.append(Float(value))
            }
        }
        var unique: [Float] = []
        for edge in edges where unique.last.map({ edge > $0 }) ?? true { unique.append(edge) }
        // An edge at the largest value would leave the last bin empty.
        if let top = unique.last, top >= values[values.count - 1] { unique.removeLast() }
        return unique
    }
}
