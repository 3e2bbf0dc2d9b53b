import Foundation
import HDF5

/// Compares an output of a run with the same output made again, and says what differs and by how
/// much.
///
/// HDF5 files (datasets and models, recognised by their signature) are compared object by object:
/// groups, datasets and attributes. Metrics are compared field by field. Anything else is compared
/// byte by byte. A file that cannot be read (missing, truncated, not HDF5, an object or attribute
/// HDF5 refuses) is reported as a difference, never thrown. Damage inside an HDF5 file's metadata
/// that the HDF5 library does not check (a wrong length in its global heap, say) can still bring
/// the library down, as it can for every HDF5 reader in Blacktail.
public enum OutputComparison {
    /// The difference between the files at `original` and `reproduced`, outputs of the artifact
    /// type `type` (`dataset`, `model`, `metrics`, `file`, ...), or nil when they are byte for byte
    /// the same.
    public static func compare(original: String, reproduced: String, type: String) -> Difference? {
        let bytes = ByteComparison(original: original, reproduced: reproduced)
        if bytes.identical { return nil }
        var difference = Difference(original: original, reproduced: reproduced, type: type, method: .bytes, entries: [])
        difference.originalSize = bytes.originalSize
        difference.reproducedSize = bytes.reproducedSize
        if bytes.originalProblem != nil || bytes.reproducedProblem != nil {
            difference.entries = bytes.entries()
            return difference
        }
        let originalIsHDF5 = HDF5File.hasSignature(atPath: original)
        let reproducedIsHDF5 = HDF5File.hasSignature(atPath: reproduced)
        if originalIsHDF5, reproducedIsHDF5 {
            difference.method = .hdf5
            difference.entries = HDF5Comparison(original: original, reproduced: reproduced).entries()
            if difference.entries.contains(where: { $0.kind == .unreadable && $0.path.isEmpty }) {
                difference.entries += bytes.entries()
            } else if difference.entries.isEmpty {
                difference.entries = [storageOnly(bytes)]
            }
        } else if originalIsHDF5 || reproducedIsHDF5 {
            let which = originalIsHDF5 ? ("original", "reproduced") : ("reproduced", "original")
            difference.entries = [
                Difference.Entry(kind: .typeChanged, path: "", message: "the \(which.0) file is an HDF5 file, the \(which.1) is not")
            ] + bytes.entries()
        } else if type == "metrics" {
            difference.method = .metrics
            difference.entries = MetricsComparison(original: original, reproduced: reproduced).entries()
            if difference.entries.isEmpty {
                difference.entries = [
                    Difference.Entry(
                        kind: .storageDiffers, path: "",
                        message: "every field holds the same value; the files differ only in how the JSON is written\(bytes.firstDifference.map { " (first at byte \($0))" } ?? "")",
                        byteOffset: bytes.firstDifference
                    )
                ]
            } else if difference.entries.contains(where: { $0.kind == .unreadable && $0.path.isEmpty }) {
                difference.entries += bytes.entries()
            }
        } else {
            if type == "dataset" || type == "model" {
                difference.entries.append(
                    Difference.Entry(kind: .unreadable, path: "", message: "neither file is an HDF5 file, which a \(type) artifact is; compared byte by byte")
                )
            }
            difference.entries += bytes.entries()
        }
        return difference
    }

    private static func storageOnly(_ bytes: ByteComparison) -> Difference.Entry {
        Difference.Entry(
            kind: .storageDiffers, path: "",
            message: "every group, dataset and attribute holds the same values; the files differ only in how HDF5 stores them\(bytes.firstDifference.map { " (first at byte \($0))" } ?? "")",
            byteOffset: bytes.firstDifference
        )
    }
}

/// What differs between an original output and its reproduction: a list of entries, each saying
/// where, what, and for numbers by how much.
public struct Difference: Sendable, Equatable, Codable, CustomStringConvertible {
    /// How the two files were compared.
    public enum Method: String, Sendable, Codable, CaseIterable {
        /// Object by object, as HDF5 files.
        case hdf5
        /// Field by field, as JSON metrics.
        case metrics
        /// Byte by byte.
        case bytes
    }

    /// One thing that differs.
    public struct Entry: Sendable, Equatable, Codable, CustomStringConvertible {
        public enum Kind: String, Sendable, Codable, CaseIterable {
            /// A file, an object or an attribute could not be read; the message says why.
            case unreadable
            /// Both have it, with the same shape, and some of its values differ.
            case valuesDiffer
            /// Only the original has it.
            case onlyInOriginal
            /// Only the reproduction has it.
            case onlyInReproduced
            /// A dataset's shape changed.
            case shapeChanged
            /// A dataset's element type changed, an object changed from group to dataset, or a
            /// value from one kind to another.
            case typeChanged
            /// An attribute of an object has another value.
            case attributeDiffers
            /// The files' bytes differ (a file compared byte by byte).
            case bytesDiffer
            /// The content is the same; only the way it is stored differs.
            case storageDiffers
            /// Present in both, but of a kind that cannot be compared (an HDF5 type Blacktail does
            /// not read).
            case notCompared
        }

        public var kind: Kind
        /// Where: an HDF5 object path (`/parameters/layer0/weights`), a metrics field (`accuracy`),
        /// or empty for the file as a whole.
        public var path: String
        /// The attribute concerned, for attribute entries.
        public var attribute: String?
        /// What differs, as a sentence.
        public var message: String
        /// The largest absolute difference between values present on both sides, for numbers; it
        /// may be infinite, which JSON cannot hold (encode with a non-conforming float strategy).
        public var largestAbsoluteDifference: Double?
        /// How many elements differ, for datasets and lists.
        public var differingElements: Int?
        /// How many elements were compared, for datasets and lists.
        public var elementCount: Int?
        /// The offset of the first byte that differs, for byte comparisons.
        public var byteOffset: Int?

        public init(
            kind: Kind, path: String, attribute: String? = nil, message: String, largestAbsoluteDifference: Double? = nil,
            differingElements: Int? = nil, elementCount: Int? = nil, byteOffset: Int? = nil
        ) {
            self.kind = kind
            self.path = path
            self.attribute = attribute
            self.message = message
            self.largestAbsoluteDifference = largestAbsoluteDifference
            self.differingElements = differingElements
            self.elementCount = elementCount
            self.byteOffset = byteOffset
        }

        public var description: String {
            path.isEmpty ? message : "\(path): \(message)"
        }
    }

    /// The original file, as the caller named it.
    public var original: String
    /// The reproduced file, as the caller named it.
    public var reproduced: String
    /// The artifact type the caller gave.
    public var type: String
    public var method: Method
    /// What differs, in the order found: HDF5 objects by path, metrics by name.
    public var entries: [Entry]
    /// The files' sizes in bytes, or nil for a file that could not be read.
    public var originalSize: Int?
    public var reproducedSize: Int?

    public init(original: String, reproduced: String, type: String, method: Method, entries: [Entry]) {
        self.original = original
        self.reproduced = reproduced
        self.type = type
        self.method = method
        self.entries = entries
    }

    /// The largest absolute difference of any numeric entry, or nil when no entry is numeric.
    public var largestAbsoluteDifference: Double? {
        entries.compactMap(\.largestAbsoluteDifference).max()
    }

    /// Whether every difference is a difference of numbers of at most `tolerance` (or of storage
    /// alone), so that the reproduction matches the original up to rounding.
    public func isWithin(tolerance: Double) -> Bool {
        entries.allSatisfy { entry in
            switch entry.kind {
            case .storageDiffers: true
            case .valuesDiffer: entry.largestAbsoluteDifference.map { $0 <= tolerance } ?? false
            default: false
            }
        }
    }

    /// One line: what was compared, and how many differences there are.
    public var summary: String {
        let count = entries.count == 1 ? "1 difference" : "\(entries.count) differences"
        let largest = largestAbsoluteDifference.map { ", largest absolute difference \($0)" } ?? ""
        return "the reproduced \(type) differs from the original: \(count)\(largest)"
    }

    /// The summary, then one line per entry.
    public var description: String {
        ([summary] + entries.map { "  " + $0.description }).joined(separator: "\n")
    }
}

/// Two files read side by side in blocks: their sizes and the first byte that differs.
struct ByteComparison {
    var originalSize: Int?
    var reproducedSize: Int?
    /// The offset of the first byte that differs (the shorter file's size when one is the start of
    /// the other), or nil when the files are the same or one could not be read.
    var firstDifference: Int?
    /// Why a file could not be read, by side.
    var originalProblem: String?
    var reproducedProblem: String?

    var identical: Bool {
        originalProblem == nil && reproducedProblem == nil && firstDifference == nil
    }

    init(original: String, reproduced: String) {
        let first = Self.open(original)
        let second = Self.open(reproduced)
        defer {
            try? first.handle?.close()
            try? second.handle?.close()
        }
        originalSize = first.size
        reproducedSize = second.size
        originalProblem = first.problem
        reproducedProblem = second.problem
        guard let a = first.handle, let b = second.handle else { return }
        let block = 1 << 20
        var offset = 0
        while true {
            let left: Data
            let right: Data
            do {
                left = try a.read(upToCount: block) ?? Data()
            } catch {
                originalProblem = "cannot read the file: \(error.localizedDescription)"
                return
            }
            do {
                right = try b.read(upToCount: block) ?? Data()
            } catch {
                reproducedProblem = "cannot read the file: \(error.localizedDescription)"
                return
            }
            if left.isEmpty, right.isEmpty { return }
            if left != right {
                let common = zip(left, right).prefix { $0 == $1 }.count
                firstDifference = offset + common
                return
            }
            offset += left.count
        }
    }

    private static func open(_ path: String) -> (handle: FileHandle?, size: Int?, problem: String?) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return (nil, nil, "no such file") }
        guard !isDirectory.boolValue else { return (nil, nil, "it is a folder, not a file") }
        guard let handle = FileHandle(forReadingAtPath: path) else { return (nil, nil, "cannot read the file") }
        guard let end = try? handle.seekToEnd(), (try? handle.seek(toOffset: 0)) != nil else {
            try? handle.close()
            return (nil, nil, "cannot read the file")
        }
        return (handle, Int(end), nil)
    }

    /// The entries for a byte comparison: each unreadable file, or the sizes and the first
    /// differing byte.
    func entries() -> [Difference.Entry] {
        var entries: [Difference.Entry] = []
        for (side, problem) in [("original", originalProblem), ("reproduced", reproducedProblem)] {
            if let problem { entries.append(Difference.Entry(kind: .unreadable, path: "", message: "the \(side) file could not be read: \(problem)")) }
        }
        guard entries.isEmpty, let offset = firstDifference, let originalSize, let reproducedSize else { return entries }
        let sizes = originalSize == reproducedSize
            ? "both \(originalSize) bytes"
            : "the original \(originalSize) bytes, the reproduced \(reproducedSize)"
        let message = offset == min(originalSize, reproducedSize)
            ? "the \(originalSize < reproducedSize ? "original" : "reproduced") file is the first \(offset) bytes of the other (\(sizes))"
            : "the files differ from byte \(offset) on (\(sizes))"
        return [Difference.Entry(kind: .bytesDiffer, path: "", message: message, byteOffset: offset)]
    }
}

/// Two HDF5 files compared object by object.
struct HDF5Comparison {
    let original: String
    let reproduced: String
    /// Nested groups deeper than this are not entered: hard links can make a group its own
    /// descendant.
    static let maximumDepth = 32
    /// Objects compared at most, for the same reason.
    static let maximumObjects = 100_000
    /// Elements read at a time from each dataset.
    static let blockElements = 1 << 20

    private final class Walk {
        var entries: [Difference.Entry] = []
        var objects = 0
        var stopped = false
    }

    func entries() -> [Difference.Entry] {
        let first: HDF5File
        let second: HDF5File
        do {
            first = try HDF5File.open(at: original)
        } catch {
            return [Difference.Entry(kind: .unreadable, path: "", message: "the original file could not be read: \(error.message)")]
        }
        defer { first.close() }
        do {
            second = try HDF5File.open(at: reproduced)
        } catch {
            return [Difference.Entry(kind: .unreadable, path: "", message: "the reproduced file could not be read: \(error.message)")]
        }
        defer { second.close() }
        let walk = Walk()
        do {
            try compareGroups(try first.root, try second.root, path: "/", depth: 0, walk)
        } catch {
            walk.entries.append(Difference.Entry(kind: .unreadable, path: "/", message: "could not be read: \(error.message)"))
        }
        return walk.entries
    }

    private enum Member {
        case group(HDF5Group)
        case dataset(HDF5Dataset)
        case other(String)

        var noun: String {
            switch self {
            case .group: "group"
            case .dataset: "dataset"
            case .other: "object"
            }
        }
    }

    private func member(_ name: String, of group: HDF5Group) -> Member {
        do {
            if group.isDataset(name) { return .dataset(try group.dataset(name)) }
            return .group(try group.group(name))
        } catch {
            return .other(error.message)
        }
    }

    private func compareGroups(_ a: HDF5Group, _ b: HDF5Group, path: String, depth: Int, _ walk: Walk) throws(HDF5Error) {
        compareAttributes(a, b, path: path, walk)
        guard depth < Self.maximumDepth else {
            walk.entries.append(Difference.Entry(kind: .notCompared, path: path, message: "groups nested deeper than \(Self.maximumDepth) levels are not compared"))
            return
        }
        let namesA = try a.memberNames
        let namesB = try b.memberNames
        let inB = Set(namesB)
        let inA = Set(namesA)
        for name in Array(inA.union(inB)).sorted() {
            guard !walk.stopped else { return }
            walk.objects += 1
            if walk.objects > Self.maximumObjects {
                walk.stopped = true
                walk.entries.append(Difference.Entry(kind: .notCompared, path: path, message: "only the first \(Self.maximumObjects) objects were compared"))
                return
            }
            let childPath = path == "/" ? "/" + name : path + "/" + name
            guard inA.contains(name) else {
                walk.entries.append(Difference.Entry(kind: .onlyInReproduced, path: childPath, message: "only in the reproduced file (\(describe(member(name, of: b))))"))
                continue
            }
            guard inB.contains(name) else {
                walk.entries.append(Difference.Entry(kind: .onlyInOriginal, path: childPath, message: "only in the original file (\(describe(member(name, of: a))))"))
                continue
            }
            switch (member(name, of: a), member(name, of: b)) {
            case (.group(let left), .group(let right)):
                do {
                    try compareGroups(left, right, path: childPath, depth: depth + 1, walk)
                } catch {
                    walk.entries.append(Difference.Entry(kind: .unreadable, path: childPath, message: "could not be read: \(error.message)"))
                }
            case (.dataset(let left), .dataset(let right)):
                compareDatasets(left, right, path: childPath, walk)
            case (.other(let problem), _):
                walk.entries.append(Difference.Entry(kind: .unreadable, path: childPath, message: "could not be read in the original file: \(problem)"))
            case (_, .other(let problem)):
                walk.entries.append(Difference.Entry(kind: .unreadable, path: childPath, message: "could not be read in the reproduced file: \(problem)"))
            case (let left, let right):
                walk.entries.append(Difference.Entry(kind: .typeChanged, path: childPath, message: "a \(left.noun) in the original, a \(right.noun) in the reproduced"))
            }
        }
    }

    private func describe(_ member: Member) -> String {
        switch member {
        case .group: "a group"
        case .dataset(let dataset): "a dataset of \(dataset.elementType?.rawValue ?? "an unreadable type"), shape \(dataset.shape)"
        case .other(let problem): "an object that could not be read: \(problem)"
        }
    }

    private func compareDatasets(_ a: HDF5Dataset, _ b: HDF5Dataset, path: String, _ walk: Walk) {
        compareAttributes(a, b, path: path, walk)
        guard a.shape == b.shape else {
            walk.entries.append(Difference.Entry(kind: .shapeChanged, path: path, message: "shape \(a.shape) in the original, \(b.shape) in the reproduced"))
            return
        }
        guard let typeA = a.elementType, let typeB = b.elementType else {
            if a.elementType != nil || b.elementType != nil {
                let side = a.elementType == nil ? "original" : "reproduced"
                walk.entries.append(Difference.Entry(kind: .typeChanged, path: path, message: "the \(side) holds a type Blacktail does not read"))
            } else {
                walk.entries.append(Difference.Entry(kind: .notCompared, path: path, message: "holds a type Blacktail does not read, in both files"))
            }
            return
        }
        if typeA != typeB {
            walk.entries.append(Difference.Entry(kind: .typeChanged, path: path, message: "\(typeA.rawValue) in the original, \(typeB.rawValue) in the reproduced"))
        }
        guard a.elementCount > 0 else { return }
        do {
            let tally: Tally
            switch (typeA, typeB) {
            case (.string, .string): tally = try Self.tallyStrings(a, b)
            case (.bool, .bool): tally = try Self.tally(a, b, as: Bool.self) { $0 == $1 ? nil : 1 }
            case (.string, _), (_, .string), (.bool, _), (_, .bool): return
            case (.float32, _), (.float64, _), (_, .float32), (_, .float64):
                tally = try Self.tally(a, b, as: Double.self) { left, right in
                    left == right || (left.isNaN && right.isNaN) ? nil : abs(left - right)
                }
            default:
                tally = try Self.tally(a, b, as: Int64.self) { left, right in
                    guard left != right else { return nil }
                    let (difference, overflow) = left.subtractingReportingOverflow(right)
                    return overflow ? abs(Double(left) - Double(right)) : Double(difference.magnitude)
                }
            }
            if tally.differing > 0 {
                walk.entries.append(tally.entry(path: path, count: a.elementCount, numeric: typeA.isNumber && typeB.isNumber))
            }
        } catch {
            walk.entries.append(Difference.Entry(kind: .unreadable, path: path, message: "could not be read: \(error.message)"))
        }
    }

    /// Differing elements and the largest absolute difference among them.
    struct Tally {
        var differing = 0
        var largest: Double?
        /// Elements that differ because one side is NaN.
        var notANumber = 0

        mutating func add(_ difference: Double?) {
            guard let difference else { return }
            differing += 1
            if difference.isNaN {
                notANumber += 1
            } else {
                largest = max(largest ?? 0, difference)
            }
        }

        func entry(path: String, count: Int, numeric: Bool) -> Difference.Entry {
            var message = "\(differing) of \(count) elements differ"
            if numeric, let largest { message += ", largest absolute difference \(largest)" }
            if notANumber > 0 { message += " (\(notANumber) of them NaN on one side only)" }
            return Difference.Entry(
                kind: .valuesDiffer, path: path, message: message, largestAbsoluteDifference: numeric ? largest : nil,
                differingElements: differing, elementCount: count
            )
        }
    }

    /// Compares two datasets of one shape block of rows by block of rows, `difference` giving the
    /// absolute difference of two elements, 1 for a difference without a size, or nil when equal.
    private static func tally<Element: HDF5Element>(
        _ a: HDF5Dataset, _ b: HDF5Dataset, as: Element.Type, _ difference: (Element, Element) -> Double?
    ) throws(HDF5Error) -> Tally {
        var tally = Tally()
        if a.shape.isEmpty {
            for (left, right) in zip(try a.read(as: Element.self), try b.read(as: Element.self)) { tally.add(difference(left, right)) }
            return tally
        }
        let step = max(1, blockElements / max(a.rowWidth, 1))
        var start = 0
        while start < a.rowCount {
            let end = min(a.rowCount, start + step)
            let left = try a.readRows(start..<end, as: Element.self)
            let right = try b.readRows(start..<end, as: Element.self)
            for (x, y) in zip(left, right) { tally.add(difference(x, y)) }
            start = end
        }
        return tally
    }

    /// Compares two text datasets of one shape, element by element.
    private static func tallyStrings(_ a: HDF5Dataset, _ b: HDF5Dataset) throws(HDF5Error) -> Tally {
        var tally = Tally()
        for (left, right) in zip(try a.readStrings(), try b.readStrings()) where left != right { tally.add(1) }
        return tally
    }

    private func compareAttributes(_ a: HDF5Object, _ b: HDF5Object, path: String, _ walk: Walk) {
        let namesA: [String]
        let namesB: [String]
        do {
            namesA = try a.attributeNames
            namesB = try b.attributeNames
        } catch {
            walk.entries.append(Difference.Entry(kind: .unreadable, path: path, message: "its attributes could not be listed: \(error.message)"))
            return
        }
        let inA = Set(namesA)
        let inB = Set(namesB)
        for name in Array(inA.union(inB)).sorted() {
            func entry(_ kind: Difference.Entry.Kind, _ message: String, largest: Double? = nil) {
                walk.entries.append(Difference.Entry(kind: kind, path: path, attribute: name, message: message, largestAbsoluteDifference: largest))
            }
            let left: HDF5AttributeValue?
            let right: HDF5AttributeValue?
            do {
                left = inA.contains(name) ? try a.attribute(name) : nil
                right = inB.contains(name) ? try b.attribute(name) : nil
            } catch {
                entry(.unreadable, "attribute '\(name)' could not be read: \(error.message)")
                continue
            }
            switch (left, right) {
            case (let value?, nil):
                entry(.onlyInOriginal, "attribute '\(name)' only in the original (\(Self.render(value)))")
            case (nil, let value?):
                entry(.onlyInReproduced, "attribute '\(name)' only in the reproduced (\(Self.render(value)))")
            case (let x?, let y?) where !Self.same(x, y):
                let largest = Self.largestDifference(x, y)
                let by = largest.map { ", absolute difference \($0)" } ?? ""
                entry(.attributeDiffers, "attribute '\(name)' is \(Self.render(x)) in the original, \(Self.render(y)) in the reproduced\(by)", largest: largest)
            default:
                break
            }
        }
    }

    /// Equal values, NaN equal to NaN.
    static func same(_ x: HDF5AttributeValue, _ y: HDF5AttributeValue) -> Bool {
        switch (x.doublesValue, y.doublesValue) {
        case (let left?, let right?):
            left.count == right.count && zip(left, right).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
        default:
            x == y
        }
    }

    /// The largest absolute difference between two numeric attribute values of one length.
    static func largestDifference(_ x: HDF5AttributeValue, _ y: HDF5AttributeValue) -> Double? {
        func numbers(_ value: HDF5AttributeValue) -> [Double]? {
            value.doublesValue ?? value.intsValue?.map(Double.init)
        }
        guard let left = numbers(x), let right = numbers(y), left.count == right.count, !left.isEmpty else { return nil }
        let differences = zip(left, right).map { abs($0 - $1) }.filter { !$0.isNaN }
        return differences.max()
    }

    /// An attribute value as the description shows it: text quoted, lists bracketed and cut short.
    static func render(_ value: HDF5AttributeValue) -> String {
        func list(_ items: [String]) -> String {
            let shown = items.prefix(8).joined(separator: ", ")
            return "[\(shown)\(items.count > 8 ? ", ... (\(items.count) items)" : "")]"
        }
        func quoted(_ text: String) -> String {
            let short = text.count > 80 ? String(text.prefix(80)) + "..." : text
            return "\"\(short)\""
        }
        return switch value {
        case .int(let int): String(int)
        case .double(let double): String(double)
        case .string(let string): quoted(string)
        case .ints(let ints): list(ints.map(String.init))
        case .doubles(let doubles): list(doubles.map { String($0) })
        case .strings(let strings): list(strings.map(quoted))
        }
    }
}

extension HDF5ElementType {
    fileprivate var isNumber: Bool { self != .string && self != .bool }
}

/// Two metrics files (JSON) compared field by field.
struct MetricsComparison {
    let original: String
    let reproduced: String

    /// A JSON value as JSONSerialization reads it, kept apart by kind.
    enum Value {
        case null
        case bool(Bool)
        case integer(Int64)
        case number(Double)
        case text(String)
        case list([Value])
        case object([String: Value])

        init?(_ any: Any) {
            switch any {
            case let number as NSNumber:
                switch String(cString: number.objCType) {
                case "c", "B": self = .bool(number.boolValue)
                case "f", "d": self = .number(number.doubleValue)
                default: self = .integer(number.int64Value)
                }
            case let text as String: self = .text(text)
            case let items as [Any]: self = .list(items.compactMap(Value.init))
            case let members as [String: Any]: self = .object(members.compactMapValues(Value.init))
            case is NSNull: self = .null
            default: return nil
            }
        }

        var number: Double? {
            switch self {
            case .integer(let value): Double(value)
            case .number(let value): value
            default: nil
            }
        }

        var rendered: String {
            switch self {
            case .null: "null"
            case .bool(let value): String(value)
            case .integer(let value): String(value)
            case .number(let value): String(value)
            case .text(let value): "\"\(value.count > 80 ? String(value.prefix(80)) + "..." : value)\""
            case .list(let items): "a list of \(items.count)"
            case .object(let members): "an object of \(members.count) fields"
            }
        }
    }

    func entries() -> [Difference.Entry] {
        let left: Value
        let right: Value
        switch (Self.read(original), Self.read(reproduced)) {
        case (.success(let a), .success(let b)):
            (left, right) = (a, b)
        case (let a, let b):
            var entries: [Difference.Entry] = []
            if case .failure(let problem) = a { entries.append(Difference.Entry(kind: .unreadable, path: "", message: "the original file could not be read: \(problem.message)")) }
            if case .failure(let problem) = b { entries.append(Difference.Entry(kind: .unreadable, path: "", message: "the reproduced file could not be read: \(problem.message)")) }
            return entries
        }
        var entries: [Difference.Entry] = []
        compare(left, right, path: "", into: &entries)
        return entries
    }

    struct Problem: Error {
        var message: String
    }

    static func read(_ path: String) -> Result<Value, Problem> {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            return .failure(Problem(message: FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file"))
        }
        guard let parsed = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]), let value = Value(parsed) else {
            return .failure(Problem(message: "it is not JSON"))
        }
        return .success(value)
    }

    private func compare(_ a: Value, _ b: Value, path: String, into entries: inout [Difference.Entry]) {
        let shown = path.isEmpty ? "" : path
        switch (a, b) {
        case (.object(let left), .object(let right)):
            for key in Array(Set(left.keys).union(right.keys)).sorted() {
                let child = path.isEmpty ? key : "\(path).\(key)"
                switch (left[key], right[key]) {
                case (let value?, nil):
                    entries.append(Difference.Entry(kind: .onlyInOriginal, path: child, message: "only in the original (\(value.rendered))"))
                case (nil, let value?):
                    entries.append(Difference.Entry(kind: .onlyInReproduced, path: child, message: "only in the reproduced (\(value.rendered))"))
                case (let x?, let y?):
                    compare(x, y, path: child, into: &entries)
                case (nil, nil):
                    break
                }
            }
        case (.list(let left), .list(let right)):
            for index in 0..<max(left.count, right.count) {
                let child = "\(path)[\(index)]"
                if index >= right.count {
                    entries.append(Difference.Entry(kind: .onlyInOriginal, path: child, message: "only in the original (\(left[index].rendered))"))
                } else if index >= left.count {
                    entries.append(Difference.Entry(kind: .onlyInReproduced, path: child, message: "only in the reproduced (\(right[index].rendered))"))
                } else {
                    compare(left[index], right[index], path: child, into: &entries)
                }
            }
        case (.integer(let x), .integer(let y)):
            guard x != y else { return }
            let (difference, overflow) = x.subtractingReportingOverflow(y)
            let largest = overflow ? abs(Double(x) - Double(y)) : Double(difference.magnitude)
            entries.append(numberEntry(shown, a, b, largest))
        case _ where a.number != nil && b.number != nil:
            guard let x = a.number, let y = b.number, x != y else { return }
            entries.append(numberEntry(shown, a, b, abs(x - y)))
        case (.null, .null):
            return
        case (.bool(let x), .bool(let y)) where x == y:
            return
        case (.text(let x), .text(let y)) where x == y:
            return
        case (.bool, .bool), (.text, .text):
            entries.append(Difference.Entry(kind: .valuesDiffer, path: shown, message: "\(a.rendered) in the original, \(b.rendered) in the reproduced"))
        default:
            entries.append(Difference.Entry(kind: .typeChanged, path: shown, message: "\(a.rendered) in the original, \(b.rendered) in the reproduced"))
        }
    }

    private func numberEntry(_ path: String, _ a: Value, _ b: Value, _ difference: Double) -> Difference.Entry {
        Difference.Entry(
            kind: .valuesDiffer, path: path,
            message: "\(a.rendered) in the original, \(b.rendered) in the reproduced, absolute difference \(difference)",
            largestAbsoluteDifference: difference
        )
    }
}
