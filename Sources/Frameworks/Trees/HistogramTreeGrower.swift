import BlacktailNumerics

/// Grows the trees of gradient boosting best-first (like LightGBM and scikit-learn's
/// HistGradientBoosting): the leaf whose best split gains the most is split next, until
/// `maxLeafNodes` leaves. Splits come from histograms of the gradients and hessians per feature
/// and bin; a node's larger child gets its histogram by subtracting the smaller child's from the
/// parent's.
///
/// Each feature's histogram is summed over the node's rows in row order by one thread, and the
/// features' best splits are compared in feature order, so a tree does not depend on how many
/// threads built it. Buffers are allocated once and reused for every tree.
final class HistogramTreeGrower {
    struct Settings {
        var maxLeafNodes: Int
        var maxDepth: Int
        var minSamplesLeaf: Int
        var l2: Double
        var learningRate: Double
        var threads: Int
        /// A side of a split needs at least this much hessian (scikit-learn's
        /// `min_hessian_to_split`).
        var minHessian: Double = 1e-3
    }

    /// A candidate split: rows whose bin is at most `bin` go left.
    struct Split {
        var gain = 0.0
        var feature = -1
        var bin = 0
        var leftGradient = 0.0
        var leftHessian = 0.0
        var leftCount = 0
    }

    private struct Node {
        var start: Int
        var end: Int
        var depth: Int
        var gradient: Double
        var hessian: Double
        /// The node's index in the tree's arrays.
        var index: Int
        var histogram = -1
        var split = Split()
        var count: Int { end - start }
    }

    let bins: BinnedFeatures
    let settings: Settings
    /// The row indices, grouped by node: a node's rows are a contiguous range. After ``grow``,
    /// each leaf's rows are at the range it returns.
    let rows: UnsafeMutablePointer<UInt32>
    private let scratch: UnsafeMutablePointer<UInt32>
    private let orderedGradients: UnsafeMutablePointer<Float>
    private let orderedHessians: UnsafeMutablePointer<Float>
    /// Where each feature's bins start in a histogram, and where the last ends; a bin is
    /// (gradient, hessian, count).
    private let binOffsets: UnsafeMutablePointer<Int>
    private let histogramSize: Int
    private var histograms: [UnsafeMutablePointer<Double>] = []
    private var freeHistograms: [Int] = []
    /// Each feature's best split, for the smaller and the larger child of the node being split.
    private let featureSplits: UnsafeMutablePointer<Split>

    init(bins: BinnedFeatures, settings: Settings) {
        self.bins = bins
        self.settings = settings
        let count = max(bins.rowCount, 1)
        rows = .allocate(capacity: count)
        scratch = .allocate(capacity: count)
        orderedGradients = .allocate(capacity: count)
        orderedHessians = .allocate(capacity: count)
        binOffsets = .allocate(capacity: bins.featureCount + 1)
        binOffsets[0] = 0
        for feature in 0..<bins.featureCount { binOffsets[feature + 1] = binOffsets[feature] + bins.binCount(feature) }
        histogramSize = binOffsets[bins.featureCount] * 3
        featureSplits = .allocate(capacity: 2 * max(bins.featureCount, 1))
        featureSplits.initialize(repeating: Split(), count: 2 * max(bins.featureCount, 1))
    }

    deinit {
        rows.deallocate()
        scratch.deallocate()
        orderedGradients.deallocate()
        orderedHessians.deallocate()
        featureSplits.deallocate()
        binOffsets.deallocate()
        for histogram in histograms { histogram.deallocate() }
    }

    private func takeHistogram() -> Int {
        if let slot = freeHistograms.popLast() { return slot }
        histograms.append(.allocate(capacity: max(histogramSize, 1)))
        return histograms.count - 1
    }

    private func release(_ slot: Int) {
        if slot >= 0 { freeHistograms.append(slot) }
    }

    /// The leaf value of a node: the Newton step, shrunk by the learning rate.
    private func value(_ node: Node) -> Float {
        Float(-settings.learningRate * node.gradient / (node.hessian + settings.l2 + 1e-15))
    }

    /// Grows one tree on per-row gradients and hessians (indexed like the binned rows).
    /// - Returns: the tree, and each leaf's node index and range in ``rows``.
    func grow(gradients: UnsafePointer<Float>, hessians: UnsafePointer<Float>) -> (tree: DecisionTree, leaves: [(node: Int, rows: Range<Int>)]) {
        let rowCount = bins.rowCount
        for row in 0..<rowCount { rows[row] = UInt32(row) }
        var gradient = 0.0
        var hessian = 0.0
        for row in 0..<rowCount {
            gradient += Double(gradients[row])
            hessian += Double(hessians[row])
        }
        var nodes = [Node(start: 0, end: rowCount, depth: 0, gradient: gradient, hessian: hessian, index: 0)]
        var feature: [Int32] = [-1]
        var threshold: [Float] = [0]
        var left: [Int32] = [-1]
        var right: [Int32] = [-1]
        var values: [Float] = [value(nodes[0])]
        var frontier: [Int] = []
        var leaves = 1

        func splittable(_ node: Node) -> Bool {
            leaves < settings.maxLeafNodes && node.count >= 2 * settings.minSamplesLeaf && node.depth < settings.maxDepth
                && node.hessian >= 2 * settings.minHessian
        }

        bins.codes.withUnsafeBufferPointer { codePointer in
            let codes = codePointer.baseAddress!
            if splittable(nodes[0]) {
                nodes[0].histogram = takeHistogram()
                nodes[0].split = histogramsAndSplits(
                    codes: codes, gradients: gradients, hessians: hessians,
                    small: nodes[0], smallSlot: nodes[0].histogram, large: nil, parentSlot: -1
                ).small
                if nodes[0].split.feature >= 0 { frontier.append(0) } else { release(nodes[0].histogram) }
            }
            while leaves < settings.maxLeafNodes, !frontier.isEmpty {
                // The largest gain; on a tie, the node made first.
                var pick = 0
                for candidate in 1..<frontier.count {
                    let (a, b) = (nodes[frontier[candidate]], nodes[frontier[pick]])
                    if a.split.gain > b.split.gain || (a.split.gain == b.split.gain && a.index < b.index) { pick = candidate }
                }
                let parentID = frontier.remove(at: pick)
                let parent = nodes[parentID]
                let split = parent.split
                let middle = partition(codes: codes, start: parent.start, end: parent.end, feature: split.feature, bin: split.bin)
                precondition(middle - parent.start == split.leftCount, "the partition disagrees with the histogram")
                var leftChild = Node(
                    start: parent.start, end: middle, depth: parent.depth + 1,
                    gradient: split.leftGradient, hessian: split.leftHessian, index: feature.count
                )
                var rightChild = Node(
                    start: middle, end: parent.end, depth: parent.depth + 1,
                    gradient: parent.gradient - split.leftGradient, hessian: parent.hessian - split.leftHessian, index: feature.count + 1
                )
                feature[parent.index] = Int32(split.feature)
                threshold[parent.index] = bins.thresholds[split.feature][split.bin]
                left[parent.index] = Int32(leftChild.index)
                right[parent.index] = Int32(rightChild.index)
                feature.append(contentsOf: repeatElement(-1, count: 2))
                threshold.append(contentsOf: repeatElement(0, count: 2))
                left.append(contentsOf: repeatElement(-1, count: 2))
                right.append(contentsOf: repeatElement(-1, count: 2))
                values.append(value(leftChild))
                values.append(value(rightChild))
                leaves += 1

                if splittable(leftChild) || splittable(rightChild) {
                    let leftIsSmall = leftChild.count <= rightChild.count
                    var small = leftIsSmall ? leftChild : rightChild
                    var large = leftIsSmall ? rightChild : leftChild
                    small.histogram = takeHistogram()
                    large.histogram = parent.histogram
                    let found = histogramsAndSplits(
                        codes: codes, gradients: gradients, hessians: hessians,
                        small: splittable(small) ? small : nil, smallSlot: small.histogram,
                        large: splittable(large) ? large : nil, parentSlot: parent.histogram,
                        smallRows: small.start..<small.end
                    )
                    small.split = found.small
                    large.split = found.large
                    leftChild = leftIsSmall ? small : large
                    rightChild = leftIsSmall ? large : small
                } else {
                    release(parent.histogram)
                }
                for child in [leftChild, rightChild] {
                    nodes.append(child)
                    if child.split.feature >= 0, splittable(child) {
                        frontier.append(nodes.count - 1)
                    } else {
                        release(child.histogram)
                    }
                }
            }
        }
        for id in frontier { release(nodes[id].histogram) }
        let tree = DecisionTree(feature: feature, threshold: threshold, left: left, right: right, values: values, outputCount: 1)
        let leafRanges = nodes.filter { feature[$0.index] < 0 }.map { (node: $0.index, rows: $0.start..<$0.end) }
        return (tree, leafRanges)
    }

    /// Splits a node's rows in place, those with `bin` or below first; returns where the others
    /// start. Stable: each side keeps its rows in ascending order.
    private func partition(codes: UnsafePointer<UInt8>, start: Int, end: Int, feature: Int, bin: Int) -> Int {
        let column = codes + feature * bins.rowCount
        let threshold = UInt8(bin)
        var leftEnd = start
        var rightCount = 0
        for position in start..<end {
            let row = rows[position]
            if column[Int(row)] <= threshold {
                rows[leftEnd] = row
                leftEnd += 1
            } else {
                scratch[rightCount] = row
                rightCount += 1
            }
        }
        (rows + leftEnd).update(from: scratch, count: rightCount)
        return leftEnd
    }

    /// Builds the histogram of the smaller child (or of the root) in `smallSlot`, turns the parent's
    /// histogram in `parentSlot` into the larger child's by subtraction, and finds the best split of
    /// each child given (nil: not wanted), one feature per task.
    private func histogramsAndSplits(
        codes: UnsafePointer<UInt8>, gradients: UnsafePointer<Float>, hessians: UnsafePointer<Float>,
        small: Node?, smallSlot: Int, large: Node?, parentSlot: Int, smallRows: Range<Int>? = nil
    ) -> (small: Split, large: Split) {
        let featureCount = bins.featureCount
        let rowCount = bins.rowCount
        let root = smallRows == nil
        let range = smallRows ?? 0..<rowCount
        if !root {
            for (offset, position) in range.enumerated() {
                let row = Int(rows[position])
                orderedGradients[offset] = gradients[row]
                orderedHessians[offset] = hessians[row]
            }
        }
        nonisolated(unsafe) let smallHistogram = histograms[smallSlot]
        nonisolated(unsafe) let parentHistogram = parentSlot >= 0 ? histograms[parentSlot] : nil
        nonisolated(unsafe) let rowIndices = UnsafePointer(rows) + range.lowerBound
        nonisolated(unsafe) let columnBase = codes
        nonisolated(unsafe) let offsets = UnsafePointer(binOffsets)
        nonisolated(unsafe) let splitsOut = featureSplits
        nonisolated(unsafe) let rowGradients = root ? gradients : UnsafePointer(orderedGradients)
        nonisolated(unsafe) let rowHessians = root ? hessians : UnsafePointer(orderedHessians)
        let settings = settings
        let count = range.count
        // Below this much work, starting threads costs more than it saves.
        let parts = count * featureCount < 65_536 ? 1 : settings.threads
        Parallel.forEachPart(featureCount, parts: parts) { _, features in
            for feature in features {
                let binCount = offsets[feature + 1] - offsets[feature]
                let histogram = smallHistogram + offsets[feature] * 3
                let column = columnBase + feature * rowCount
                // Features in pairs: two columns read in one pass over the rows keep twice as many
                // loads in flight, which is what a deep node's scattered rows are waiting on. The
                // second of a pair has its histogram built with the first.
                let second = (feature - features.lowerBound) % 2 == 1
                let paired = !second && feature + 1 < features.upperBound
                let partner = smallHistogram + offsets[feature + (paired ? 1 : 0)] * 3
                let partnerColumn = columnBase + (feature + (paired ? 1 : 0)) * rowCount
                if paired {
                    histogram.update(repeating: 0, count: (offsets[feature + 2] - offsets[feature]) * 3)
                    if root {
                        for row in 0..<count {
                            let gradient = Double(rowGradients[row])
                            let hessian = Double(rowHessians[row])
                            let bin = histogram + Int(column[row]) * 3
                            let other = partner + Int(partnerColumn[row]) * 3
                            bin[0] += gradient
                            bin[1] += hessian
                            bin[2] += 1
                            other[0] += gradient
                            other[1] += hessian
                            other[2] += 1
                        }
                    } else {
                        for offset in 0..<count {
                            let row = Int(rowIndices[offset])
                            let gradient = Double(rowGradients[offset])
                            let hessian = Double(rowHessians[offset])
                            let bin = histogram + Int(column[row]) * 3
                            let other = partner + Int(partnerColumn[row]) * 3
                            bin[0] += gradient
                            bin[1] += hessian
                            bin[2] += 1
                            other[0] += gradient
                            other[1] += hessian
                            other[2] += 1
                        }
                    }
                } else if !second {
                    histogram.update(repeating: 0, count: binCount * 3)
                    if root {
                        for row in 0..<count {
                            let bin = histogram + Int(column[row]) * 3
                            bin[0] += Double(rowGradients[row])
                            bin[1] += Double(rowHessians[row])
                            bin[2] += 1
                        }
                    } else {
                        for offset in 0..<count {
                            let bin = histogram + Int(column[Int(rowIndices[offset])]) * 3
                            bin[0] += Double(rowGradients[offset])
                            bin[1] += Double(rowHessians[offset])
                            bin[2] += 1
                        }
                    }
                }
                if let parentHistogram {
                    let parent = parentHistogram + offsets[feature] * 3
                    for index in 0..<(binCount * 3) { parent[index] -= histogram[index] }
                }
                if let small {
                    splitsOut[feature] = HistogramTreeGrower.bestSplit(histogram, binCount: binCount, node: small, feature: feature, settings: settings)
                }
                if let large, let parentHistogram {
                    splitsOut[featureCount + feature] = HistogramTreeGrower.bestSplit(
                        parentHistogram + offsets[feature] * 3, binCount: binCount, node: large, feature: feature, settings: settings
                    )
                }
            }
        }
        var best = (small: Split(), large: Split())
        for feature in 0..<featureCount {
            if small != nil, splitsOut[feature].gain > best.small.gain { best.small = splitsOut[feature] }
            if large != nil, splitsOut[featureCount + feature].gain > best.large.gain { best.large = splitsOut[featureCount + feature] }
        }
        return best
    }

    /// The split of one feature with the largest gain above zero, scanning its bins left to right.
    private static func bestSplit(_ histogram: UnsafePointer<Double>, binCount: Int, node: Node, feature: Int, settings: Settings) -> Split {
        var best = Split()
        let l2 = settings.l2
        let minimum = Double(settings.minSamplesLeaf)
        let total = Double(node.count)
        let parentScore = node.gradient * node.gradient / (node.hessian + l2)
        var gradient = 0.0
        var hessian = 0.0
        var count = 0.0
        for bin in 0..<max(binCount - 1, 0) {
            gradient += histogram[bin * 3]
            hessian += histogram[bin * 3 + 1]
            count += histogram[bin * 3 + 2]
            if count < minimum { continue }
            if total - count < minimum { break }
            if hessian < settings.minHessian { continue }
            let rightHessian = node.hessian - hessian
            if rightHessian < settings.minHessian { break }
            let rightGradient = node.gradient - gradient
            let gain = gradient * gradient / (hessian + l2) + rightGradient * rightGradient / (rightHessian + l2) - parentScore
            if gain > best.gain {
                best = Split(gain: gain, feature: feature, bin: bin, leftGradient: gradient, leftHessian: hessian, leftCount: Int(count))
            }
        }
        return best
    }
}
