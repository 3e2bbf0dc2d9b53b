import Foundation

/// A search of the market: words in the name, description or tags, and filters on tag, task,
/// framework, licence and metric values. Only the newest matching version of each name is shown
/// unless every version is asked for; yanked versions only when asked for.
public struct MarketQuery: Sendable {
    public var words: [String] = []
    public var tags: [String] = []
    public var task: String?
    public var framework: String?
    public var license: String?
    public var metrics: [MetricFilter] = []
    public var includeYanked = false
    public var allVersions = false

    public init() {}

    /// `accuracy>=0.95`, `rmse<0.5`, `f1_macro=1`.
    public struct MetricFilter: Sendable, Hashable, CustomStringConvertible {
        public enum Comparison: String, Sendable, CaseIterable {
            case greaterOrEqual = ">="
            case lessOrEqual = "<="
            case greater = ">"
            case less = "<"
            case equal = "="
        }

        public var metric: String
        public var comparison: Comparison
        public var value: Double

        public init(parsing text: String) throws {
            // Two-character operators first, so `>=` is not read as `>`.
            for comparison in Comparison.allCases {
                guard let range = text.range(of: comparison.rawValue) else { continue }
                let name = text[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                let number = text[range.upperBound...].trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty, let value = Double(number), value.isFinite else { break }
                self.metric = name
                self.comparison = comparison
                self.value = value
                return
            }
            throw EngineError("--metric '\(text)': write a metric, a comparison and a number, such as accuracy>=0.95")
        }

        public func holds(_ metrics: [String: Double]) -> Bool {
            guard let actual = metrics[metric] else { return false }
            switch comparison {
            case .greaterOrEqual: return actual >= value
            case .lessOrEqual: return actual <= value
            case .greater: return actual > value
            case .less: return actual < value
            case .equal: return actual == value
            }
        }

        public var description: String { "\(metric)\(comparison.rawValue)\(value)" }
    }

    public func matches(_ version: MarketVersion, _ manifest: ModelManifest) -> Bool {
        if version.isYanked, !includeYanked { return false }
        let card = manifest.card
        for word in words {
            let needle = word.lowercased()
            let haystack = [manifest.name, card.description.lowercased()] + card.tags.map { $0.lowercased() }
            if !haystack.contains(where: { $0.contains(needle) }) { return false }
        }
        for tag in tags where !card.tags.contains(where: { $0.caseInsensitiveCompare(tag) == .orderedSame }) { return false }
        if let task, card.task != task { return false }
        if let framework, card.framework != framework { return false }
        if let license, card.license.caseInsensitiveCompare(license) != .orderedSame { return false }
        return metrics.allSatisfy { $0.holds(card.metrics) }
    }

    /// The matching versions: by name, and newest first within a name.
    public func run(on registry: any MarketRegistry) async throws -> [(version: MarketVersion, manifest: ModelManifest)] {
        var results: [(version: MarketVersion, manifest: ModelManifest)] = []
        var byName: [String: [(MarketVersion, ModelManifest)]] = [:]
        for version in try await registry.marketVersions(name: nil) {
            guard let manifest = try? version.manifest(), matches(version, manifest) else { continue }
            byName[version.name, default: []].append((version, manifest))
        }
        for name in byName.keys.sorted() {
            let sorted = byName[name]!.sorted { lhs, rhs in
                (SemanticVersion(lhs.0.version) ?? SemanticVersion(major: 0, minor: 0, patch: 0)) > (SemanticVersion(rhs.0.version) ?? SemanticVersion(major: 0, minor: 0, patch: 0))
            }
            results += (allVersions ? sorted : Array(sorted.prefix(1))).map { (version: $0.0, manifest: $0.1) }
        }
        return results
    }
}
