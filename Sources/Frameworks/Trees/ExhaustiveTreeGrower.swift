import BlacktailData
import Foundation

/// Grows one decision tree depth-first, each node split at the best bin edge of a random subset of
/// the features (CART's exhaustive search, over bins): what ``DecisionTreeLearner`` and
/// ``RandomForest`` share.
///
/// Rows carry integer weights (a bootstrap sample's counts; rows of weight 0 are left out).
/// `minSamplesLeaf` and `minSamplesSplit` count rows, not weights, as scikit-learn does. The
/// features of a node are drawn without replacement until `featuresPerSplit` have been searched
/// and one of them gave a valid split, or every feature has been: a node whose drawn features are
/// all constant draws more.
struct ExhaustiveTreeGrower: Sendable {
    var bins: BinnedFeatures
    var data: TreeTrainingData
    var criterion: DecisionTreeLearner.Criterion
    var maxDepth: Int
    var minSamplesLeaf: Int
    var minSamplesSplit: Int
    var featuresPerSplit: Int

    /// The best split of a node found so far.
    private struct Split {
        var proxy = -Double.infinity
        var feature = -1
        /// Rows whose bin is at most this go left.
        var bin = 0
        /// The first occupied bin to the right.
        var nextBin = 0
    }

    /// Grows a tree on the rows with a positive weight; `random` draws the features of each node.
    func grow(weights: [Int32], random: inout SeededRandom) -> DecisionTree {
        let rowCount = bins.rowCount
        let featureCount = bins.featureCount
        let classification = data.task == .classification
        let classCount = data.classCount
        // Statistics per bin: class weights, or (weight, weighted sum of targets).
        let statWidth = classification ? classCount : 2
        let outputs = classification ? classCount : 1

        let rows = UnsafeMutablePointer<UInt32>.allocate(capacity: max(rowCount, 1))
        let scratch = UnsafeMutablePointer<UInt32>.allocate(capacity: max(rowCount, 1))
        let histogram = UnsafeMutablePointer<Double>.allocate(capacity: 256 * statWidth)
        let binRows = UnsafeMutablePointer<Int32>.allocate(capacity: 256)
        let occupied = UnsafeMutablePointer<Int>.allocate(capacity: 256)
        let totals = UnsafeMutablePointer<Double>.allocate(capacity: max(statWidth, 3))
        let running = UnsafeMutablePointer<Double>.allocate(capacity: statWidth)
        defer {
            rows.deallocate()
            scratch.deallocate()
            histogram.deallocate()
            binRows.deallocate()
            occupied.deallocate()
            totals.deallocate()
            running.deallocate()
        }
        histogram.initialize(repeating: 0, count: 256 * statWidth)
        binRows.initialize(repeating: 0, count: 256)

        var inBag = 0
        for row in 0..<rowCount where weights[row] > 0 {
            rows[inBag] = UInt32(row)
            inBag += 1
        }

        var feature: [Int32] = [-1]
        var threshold: [Float] = [0]
        var left: [Int32] = [-1]
        var right: [Int32] = [-1]
        var values = [Float](repeating: 0, count: outputs)
        var order = Array(0..<featureCount)
        var pending: [(node: Int, start: Int, end: Int, depth: Int)] = [(0, 0, inBag, 0)]

        weights.withUnsafeBufferPointer { weightPointer in
        bins.codes.withUnsafeBufferPointer { codePointer in
        data.classes.withUnsafeBufferPointer { classPointer in
        data.targets.withUnsafeBufferPointer { targetPointer in
            let weight = weightPointer.baseAddress!
            let codes = codePointer.baseAddress!
            let classOf = classPointer.baseAddress
            let target = targetPointer.baseAddress

            /// Adds one feature's statistics for the node's rows to the histogram and lists the
            /// occupied bins in order; returns how many there are.
            func accumulate(_ feature: Int, _ start: Int, _ end: Int) -> Int {
                let column = codes + feature * rowCount
                let binCount = bins.binCount(feature)
                // A node with fewer rows than bins lists its bins as they fill, instead of looking
                // through all of them.
                let few = end - start < binCount
                var occupiedCount = 0
                for position in start..<end {
                    let row = Int(rows[position])
                    let bin = Int(column[row])
                    if few, binRows[bin] == 0 {
                        occupied[occupiedCount] = bin
                        occupiedCount += 1
                    }
                    binRows[bin] += 1
                    let w = Double(weight[row])
                    if classification {
                        histogram[bin * statWidth + Int(classOf![row])] += w
                    } else {
                        histogram[bin * statWidth] += w
                        histogram[bin * statWidth + 1] += w * target![row]
                    }
                }
                guard few else {
                    for bin in 0..<binCount where binRows[bin] > 0 {
                        occupied[occupiedCount] = bin
                        occupiedCount += 1
                    }
                    return occupiedCount
                }
                // Insertion sort: a small node occupies few bins.
                for index in 1..<max(occupiedCount, 1) {
                    let bin = occupied[index]
                    var position = index
                    while position > 0, occupied[position - 1] > bin {
                        occupied[position] = occupied[position - 1]
                        position -= 1
                    }
                    occupied[position] = bin
                }
                return occupiedCount
            }

            /// Empties the histogram's occupied bins.
            func reset(occupiedCount: Int) {
                for index in 0..<occupiedCount {
                    let bin = occupied[index]
                    binRows[bin] = 0
                    for k in 0..<statWidth { histogram[bin * statWidth + k] = 0 }
                }
            }

            /// Scans the split after each occupied bin but the last; keeps a better one in `best`.
            func scan(feature: Int, occupiedCount: Int, rowCount nodeRows: Int, weight totalWeight: Double, best: inout Split) {
                for index in 0..<statWidth { running[index] = 0 }
                var leftWeight = 0.0
                var rightWeight = totalWeight
                var leftRows = 0
                // Gini: the sums of squared class weights on each side; entropy: the sums of
                // w log w; squared error: the weighted sum of targets on the left.
                var leftTerm = 0.0
                var rightTerm = 0.0
                switch criterion {
                case .gini: for k in 0..<statWidth { rightTerm += totals[k] * totals[k] }
                case .entropy: for k in 0..<statWidth { rightTerm += Self.xLogX(totals[k]) }
                case .squaredError: break
                }
                for index in 0..<(occupiedCount - 1) {
                    let bin = occupied[index]
                    let base = bin * statWidth
                    switch criterion {
                    case .gini:
                        for k in 0..<statWidth {
                            let added = histogram[base + k]
                            if added == 0 { continue }
                            let before = running[k]
                            let remaining = totals[k] - before
                            leftTerm += added * (2 * before + added)
                            rightTerm -= added * (2 * remaining - added)
                            running[k] = before + added
                            leftWeight += added
                            rightWeight -= added
                        }
                    case .entropy:
                        for k in 0..<statWidth {
                            let added = histogram[base + k]
                            if added == 0 { continue }
                            let before = running[k]
                            let remaining = totals[k] - before
                            leftTerm += Self.xLogX(before + added) - Self.xLogX(before)
                            rightTerm += Self.xLogX(remaining - added) - Self.xLogX(remaining)
                            running[k] = before + added
                            leftWeight += added
                            rightWeight -= added
                        }
                    case .squaredError:
                        leftWeight += histogram[base]
                        rightWeight -= histogram[base]
                        leftTerm += histogram[base + 1]
                    }
                    leftRows += Int(binRows[bin])
                    if leftRows < minSamplesLeaf { continue }
                    if nodeRows - leftRows < minSamplesLeaf { break }
                    let proxy: Double
                    switch criterion {
                    case .gini:
                        proxy = leftTerm / leftWeight + rightTerm / rightWeight
                    case .entropy:
                        proxy = leftTerm - Self.xLogX(leftWeight) + rightTerm - Self.xLogX(rightWeight)
                    case .squaredError:
                        let rightSum = totals[1] - leftTerm
                        proxy = leftTerm * leftTerm / leftWeight + rightSum * rightSum / rightWeight
                    }
                    if proxy > best.proxy {
                        best = Split(proxy: proxy, feature: feature, bin: bin, nextBin: occupied[index + 1])
                    }
                }
            }

            while let (node, start, end, depth) = pending.popLast() {
                let nodeRows = end - start
                for index in 0..<max(statWidth, 3) { totals[index] = 0 }
                var pure: Bool
                if classification {
                    for position in start..<end {
                        let row = Int(rows[position])
                        totals[Int(classOf![row])] += Double(weight[row])
                    }
                    var total = 0.0
                    var present = 0
                    for k in 0..<classCount where totals[k] > 0 {
                        total += totals[k]
                        present += 1
                    }
                    for k in 0..<classCount { values[node * outputs + k] = Float(totals[k] / total) }
                    pure = present <= 1
                } else {
                    for position in start..<end {
                        let row = Int(rows[position])
                        let w = Double(weight[row])
                        let y = target![row]
                        totals[0] += w
                        totals[1] += w * y
                        totals[2] += w * y * y
                    }
                    let mean = totals[1] / totals[0]
                    values[node] = Float(mean)
                    // All targets equal, up to the rounding of the sums.
                    pure = totals[2] - totals[1] * mean <= 1e-12 * totals[2]
                }
                if pure || nodeRows < minSamplesSplit || nodeRows < 2 * minSamplesLeaf || depth >= maxDepth { continue }
                let totalWeight = classification ? (0..<classCount).reduce(0.0) { $0 + totals[$1] } : totals[0]

                func search(_ feature: Int, best: inout Split) {
                    let occupiedCount = accumulate(feature, start, end)
                    if occupiedCount >= 2 {
                        scan(feature: feature, occupiedCount: occupiedCount, rowCount: nodeRows, weight: totalWeight, best: &best)
                    }
                    reset(occupiedCount: occupiedCount)
                }
                var best = Split()
                let always = min(featuresPerSplit, featureCount)
                for drawn in 0..<always {
                    order.swapAt(drawn, drawn + random.nextIndex(below: featureCount - drawn))
                    search(order[drawn], best: &best)
                }
                var drawn = always
                // Past `featuresPerSplit`, only until a split is found.
                while best.feature < 0, drawn < featureCount {
                    order.swapAt(drawn, drawn + random.nextIndex(below: featureCount - drawn))
                    search(order[drawn], best: &best)
                    drawn += 1
                }
                guard best.feature >= 0 else { continue }

                // A stable partition: each side keeps its rows in ascending order, which keeps the
                // columns' reads moving forward.
                let column = codes + best.feature * rowCount
                var leftEnd = start
                var rightCount = 0
                for position in start..<end {
                    let row = rows[position]
                    if Int(column[Int(row)]) <= best.bin {
                        rows[leftEnd] = row
                        leftEnd += 1
                    } else {
                        scratch[rightCount] = row
                        rightCount += 1
                    }
                }
                (rows + leftEnd).update(from: scratch, count: rightCount)

                let child = feature.count
                feature[node] = Int32(best.feature)
                // Any edge between the two occupied bins splits the node's rows the same way; the
                // middle one is the nearest to what an exact search on the values would choose.
                threshold[node] = bins.thresholds[best.feature][best.bin + (best.nextBin - 1 - best.bin) / 2]
                left[node] = Int32(child)
                right[node] = Int32(child + 1)
                feature.append(contentsOf: repeatElement(-1, count: 2))
                threshold.append(contentsOf: repeatElement(0, count: 2))
                left.append(contentsOf: repeatElement(-1, count: 2))
                right.append(contentsOf: repeatElement(-1, count: 2))
                values += repeatElement(0, count: 2 * outputs)
                pending.append((child + 1, leftEnd, end, depth + 1))
                pending.append((child, start, leftEnd, depth + 1))
            }
        }
        }
        }
        }
        return DecisionTree(feature: feature, threshold: threshold, left: left, right: right, values: values, outputCount: outputs)
    }

    @inline(__always)
    static func xLogX(_ x: Double) -> Double {
        x > 0 ? x * Foundation.log(x) : 0
    }
}
