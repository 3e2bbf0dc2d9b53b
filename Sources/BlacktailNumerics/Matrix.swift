import Dispatch
#if canImport(Glibc)
import Glibc
#endif
internal import COpenBLAS

/// A dense, row-major matrix of Float32, with the operations the training frameworks need.
///
/// Products go through OpenBLAS (`cblas_sgemm`); everything else is plain Swift loops in a fixed
/// order, so results depend only on the inputs and the BLAS thread count (see ``BLAS``).
public struct Matrix: Sendable, Equatable {
    public private(set) var rows: Int
    public private(set) var columns: Int
    /// The elements, row after row.
    public var values: [Float]

    public init(rows: Int, columns: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && columns >= 0, "a matrix has non-negative dimensions")
        self.rows = rows
        self.columns = columns
        values = [Float](repeating: value, count: rows * columns)
    }

    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(values.count == rows * columns, "\(values.count) values do not fill a \(rows) x \(columns) matrix")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public subscript(row: Int, column: Int) -> Float {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    /// One row, as an array.
    public func row(_ index: Int) -> ArraySlice<Float> {
        values[(index * columns)..<((index + 1) * columns)]
    }

    /// The rows at `indices`, in that order.
    ///
    /// Inlinable, so that callers in other modules get it specialised for their collection: a
    /// generic copy walks the indices through metadata lookups, and minibatch training calls it
    /// once per step.
    @inlinable
    public func rows(_ indices: some Collection<Int>) -> Matrix {
        var result = [Float]()
        result.reserveCapacity(indices.count * columns)
        for index in indices { result.append(contentsOf: row(index)) }
        return Matrix(rows: indices.count, columns: columns, values: result)
    }

    public var transposed: Matrix {
        var result = Matrix(rows: columns, columns: rows)
        for row in 0..<rows {
            for column in 0..<columns { result.values[column * rows + row] = values[row * columns + column] }
        }
        return result
    }

    // MARK: Products

    /// `alpha * op(a) * op(b) + beta * self`, written into `self`, where op transposes when asked.
    public mutating func multiply(
        _ a: Matrix, _ b: Matrix,
        transposeA: Bool = false, transposeB: Bool = false,
        alpha: Float = 1, beta: Float = 0
    ) {
        let m = transposeA ? a.columns : a.rows
        let k = transposeA ? a.rows : a.columns
        let n = transposeB ? b.rows : b.columns
        precondition(k == (transposeB ? b.columns : b.rows), "inner dimensions \(k) and \(transposeB ? b.columns : b.rows) differ")
        if rows != m || columns != n {
            precondition(beta == 0, "the result is \(rows) x \(columns), not \(m) x \(n)")
            self = Matrix(rows: m, columns: n)
        }
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            for index in values.indices { values[index] *= beta }
            return
        }
        a.values.withUnsafeBufferPointer { aPointer in
            b.values.withUnsafeBufferPointer { bPointer in
                values.withUnsafeMutableBufferPointer { cPointer in
                    cblas_sgemm(
                        CblasRowMajor,
                        transposeA ? CblasTrans : CblasNoTrans,
                        transposeB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k),
                        alpha, aPointer.baseAddress, Int32(a.columns),
                        bPointer.baseAddress, Int32(b.columns),
                        beta, cPointer.baseAddress, Int32(n)
                    )
                }
            }
        }
    }

    /// `op(a) * op(b)` as a new matrix.
    public static func product(_ a: Matrix, _ b: Matrix, transposeA: Bool = false, transposeB: Bool = false) -> Matrix {
        var result = Matrix(rows: 0, columns: 0)
        result.multiply(a, b, transposeA: transposeA, transposeB: transposeB)
        return result
    }

    // MARK: Element-wise and row-wise

    /// Adds `vector` to every row.
    public mutating func addToRows(_ vector: [Float]) {
        precondition(vector.count == columns, "a row vector of \(vector.count) for \(columns) columns")
        for row in 0..<rows {
            let base = row * columns
            for column in 0..<columns { values[base + column] += vector[column] }
        }
    }

    /// The sum of each column.
    public func columnSums() -> [Float] {
        var sums = [Float](repeating: 0, count: columns)
        for row in 0..<rows {
            let base = row * columns
            for column in 0..<columns { sums[column] += values[base + column] }
        }
        return sums
    }

    /// Applies the softmax to each row, in place, stable for large values.
    public mutating func softmaxRows() {
        for row in 0..<rows {
            let base = row * columns
            var largest = -Float.infinity
            for column in 0..<columns { largest = max(largest, values[base + column]) }
            var total: Float = 0
            for column in 0..<columns {
                let value = (values[base + column] - largest).exponential
                values[base + column] = value
                total += value
            }
            for column in 0..<columns { values[base + column] /= total }
        }
    }

    /// The column of each row's largest element (the first, on a tie).
    public func argmaxRows() -> [Int] {
        (0..<rows).map { row in
            let base = row * columns
            var best = 0
            for column in 1..<max(columns, 1) where values[base + column] > values[base + best] { best = column }
            return best
        }
    }

    public mutating func scale(by factor: Float) {
        for index in values.indices { values[index] *= factor }
    }

    /// `self += factor * other`, element by element.
    public mutating func add(_ other: Matrix, scaledBy factor: Float = 1) {
        precondition(rows == other.rows && columns == other.columns, "shapes differ")
        for index in values.indices { values[index] += factor * other.values[index] }
    }
}

extension Float {
    /// e raised to the value. `Foundation.exp` on Float goes through the C library, whose last bit may
    /// differ between machines; within one machine the result is repeatable.
    var exponential: Float { Float(Glibc.exp(Double(self))) }
}

extension Matrix {
    /// The column means and the covariance matrix (columns x columns, row-major, dividing by
    /// rows - 1).
    ///
    /// Blocks of `blockRows` centred rows are multiplied in single precision by BLAS (`ssyrk`), and
    /// the blocks' products summed in double precision, which keeps the relative error near 1e-6
    /// for any number of rows.
    public func covariance(blockRows: Int = 4096) -> (means: [Double], covariance: [Double]) {
        let width = columns
        var means = [Double](repeating: 0, count: width)
        values.withUnsafeBufferPointer { source in
            means.withUnsafeMutableBufferPointer { sums in
                for row in 0..<rows {
                    for column in 0..<width { sums[column] += Double(source[row * width + column]) }
                }
            }
        }
        for column in 0..<width { means[column] /= Double(max(rows, 1)) }
        var covariance = [Double](repeating: 0, count: width * width)
        var block = [Float](repeating: 0, count: min(blockRows, max(rows, 1)) * width)
        var product = [Float](repeating: 0, count: width * width)
        var start = 0
        while start < rows {
            let count = min(blockRows, rows - start)
            values.withUnsafeBufferPointer { source in
                block.withUnsafeMutableBufferPointer { target in
                    for row in 0..<count {
                        let from = (start + row) * width
                        let to = row * width
                        // The double mean, subtracted before rounding, so centring loses nothing.
                        for column in 0..<width { target[to + column] = Float(Double(source[from + column]) - means[column]) }
                    }
                }
            }
            block.withUnsafeBufferPointer { blockPointer in
                product.withUnsafeMutableBufferPointer { result in
                    cblas_ssyrk(
                        CblasRowMajor, CblasUpper, CblasTrans, Int32(width), Int32(count),
                        1, blockPointer.baseAddress, Int32(width), 0, result.baseAddress, Int32(width)
                    )
                }
            }
            for i in 0..<width {
                for j in i..<width { covariance[i * width + j] += Double(product[i * width + j]) }
            }
            start += count
        }
        let divisor = Double(max(rows - 1, 1))
        for i in 0..<width {
            for j in i..<width {
                covariance[i * width + j] /= divisor
                covariance[j * width + i] = covariance[i * width + j]
            }
        }
        return (means, covariance)
    }
}

extension Matrix {
    /// `self[rows] · op(other)` for a range of this matrix's rows, without copying them.
    public func product(ofRows range: Range<Int>, with other: Matrix, transposeOther: Bool = false) -> Matrix {
        let n = transposeOther ? other.rows : other.columns
        let k = columns
        precondition(k == (transposeOther ? other.columns : other.rows), "inner dimensions differ")
        var result = Matrix(rows: range.count, columns: n)
        guard !range.isEmpty, n > 0, k > 0 else { return result }
        values.withUnsafeBufferPointer { a in
            other.values.withUnsafeBufferPointer { b in
                result.values.withUnsafeMutableBufferPointer { c in
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, transposeOther ? CblasTrans : CblasNoTrans,
                        Int32(range.count), Int32(n), Int32(k),
                        1, a.baseAddress! + range.lowerBound * k, Int32(k),
                        b.baseAddress, Int32(other.columns),
                        0, c.baseAddress, Int32(n)
                    )
                }
            }
        }
        return result
    }

    /// The squared length of each row, in double precision.
    public func rowSquaredNorms() -> [Double] {
        values.withUnsafeBufferPointer { source in
            (0..<rows).map { row in
                var sum = 0.0
                for column in 0..<columns {
                    let value = Double(source[row * columns + column])
                    sum += value * value
                }
                return sum
            }
        }
    }
}

/// Work split over a fixed number of parts, run in parallel; the parts and their order depend only
/// on the count, so results combined in part order are the same on every run.
public enum Parallel {
    /// Calls `body` once for each of `parts` contiguous ranges covering 0..<count, concurrently.
    public static func forEachPart(_ count: Int, parts: Int, _ body: @Sendable (Int, Range<Int>) -> Void) {
        let parts = max(1, min(parts, count))
        let size = (count + parts - 1) / max(parts, 1)
        if parts == 1 {
            body(0, 0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let start = part * size
            body(part, start..<min(count, start + size))
        }
    }
}
