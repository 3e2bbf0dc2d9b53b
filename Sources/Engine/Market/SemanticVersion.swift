/// A version as Semantic Versioning 2.0 defines it: `MAJOR.MINOR.PATCH`, an optional pre-release
/// (`-rc.1`) and optional build metadata (`+20261127`), ordered by the specification's precedence.
public struct SemanticVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int
    public var prerelease: [String]
    public var build: [String]

    public init(major: Int, minor: Int, patch: Int, prerelease: [String] = [], build: [String] = []) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.build = build
    }

    /// Parses `1.4.0`, `2.0.0-rc.1`, `1.0.0+build.5`; nil for anything else (`1.0`, `v1.0.0`, `01.0.0`).
    public init?(_ text: String) {
        var rest = Substring(text)
        var build: [String] = []
        if let plus = rest.firstIndex(of: "+") {
            build = rest[rest.index(after: plus)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            rest = rest[..<plus]
            guard build.allSatisfy(Self.isIdentifier) else { return nil }
        }
        var prerelease: [String] = []
        if let dash = rest.firstIndex(of: "-") {
            prerelease = rest[rest.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            rest = rest[..<dash]
            guard prerelease.allSatisfy({ Self.isIdentifier($0) && !Self.hasLeadingZero($0) }) else { return nil }
        }
        let core = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard core.count == 3 else { return nil }
        var numbers: [Int] = []
        for part in core {
            guard !part.isEmpty, part.utf8.allSatisfy({ (48...57).contains($0) }), !Self.hasLeadingZero(part),
                  let number = Int(part) else { return nil }
            numbers.append(number)
        }
        self.init(major: numbers[0], minor: numbers[1], patch: numbers[2], prerelease: prerelease, build: build)
    }

    public var description: String {
        var text = "\(major).\(minor).\(patch)"
        if !prerelease.isEmpty { text += "-" + prerelease.joined(separator: ".") }
        if !build.isEmpty { text += "+" + build.joined(separator: ".") }
        return text
    }

    /// The next release after this one: a pre-release of `1.2.0` is followed by `1.2.0` itself,
    /// a release `1.2.3` by `1.2.4`.
    public var nextPatch: SemanticVersion {
        if !prerelease.isEmpty { return SemanticVersion(major: major, minor: minor, patch: patch) }
        return SemanticVersion(major: major, minor: minor, patch: patch + 1)
    }

    /// Precedence: build metadata is ignored; a pre-release comes before its release; pre-release
    /// identifiers compare numerically when both are numbers, else by their ASCII text.
    public static func < (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        if (lhs.major, lhs.minor, lhs.patch) != (rhs.major, rhs.minor, rhs.patch) {
            return (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
        }
        switch (lhs.prerelease.isEmpty, rhs.prerelease.isEmpty) {
        case (true, _): return false
        case (false, true): return true
        case (false, false): break
        }
        for (left, right) in zip(lhs.prerelease, rhs.prerelease) where left != right {
            switch (Int(left), Int(right)) {
            case let (a?, b?): return a < b
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return left.utf8.lexicographicallyPrecedes(right.utf8)
            }
        }
        return lhs.prerelease.count < rhs.prerelease.count
    }

    /// Equal precedence (build metadata ignored) is not equality: `1.0.0+a` and `1.0.0+b` are two
    /// versions, so `==` compares every part.
    public static func == (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) == (rhs.major, rhs.minor, rhs.patch) && lhs.prerelease == rhs.prerelease && lhs.build == rhs.build
    }

    private static func isIdentifier(_ part: some StringProtocol) -> Bool {
        !part.isEmpty && part.utf8.allSatisfy { byte in
            (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) || byte == UInt8(ascii: "-")
        }
    }

    private static func hasLeadingZero(_ part: some StringProtocol) -> Bool {
        part.count > 1 && part.hasPrefix("0") && part.utf8.allSatisfy { (48...57).contains($0) }
    }
}
