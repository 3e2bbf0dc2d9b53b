import Foundation
import Synchronization

/// Task specs by task id, decoded once: specs never change once submitted. The cache is emptied
/// when it reaches ``limit`` entries, so a long-lived worker does not grow without bound.
final class SpecCache: Sendable {
    static let limit = 50_000
    private let specs = Mutex<[Int64: TaskSpec]>([:])
    private let decoder = JSONDecoder()

    func spec(_ taskID: Int64, _ json: String) throws -> TaskSpec {
        if let known = specs.withLock({ $0[taskID] }) { return known }
        let decoded = try decoder.decode(TaskSpec.self, from: Data(json.utf8))
        specs.withLock { cache in
            if cache.count >= Self.limit { cache.removeAll(keepingCapacity: true) }
            cache[taskID] = decoded
        }
        return decoded
    }

    /// Specs this process has at hand already: those of tasks it has just submitted.
    func remember<Specs: Sequence>(_ specs: Specs) where Specs.Element == (Int64, TaskSpec) {
        self.specs.withLock { cache in
            for (taskID, spec) in specs {
                if cache.count >= Self.limit { cache.removeAll(keepingCapacity: true) }
                cache[taskID] = spec
            }
        }
    }
}

extension String {
    /// A `LIKE` pattern for the text as a prefix, with `\`, `%` and `_` escaped by `\`.
    var likePrefixPattern: String {
        replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_") + "%"
    }
}
