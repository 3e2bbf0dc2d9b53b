public import PipelineLanguage

/// The ops a Blacktail build knows: every signature, and the implementation of those that can run.
///
/// An op's signature can be in the catalogue before its implementation is: pipelines that use it
/// validate and plan, and `blacktail ops` shows it as not yet runnable. The engine refuses to run a
/// node whose op has no implementation.
public struct OpCatalogue: Sendable {
    public struct Entry: Sendable {
        public let signature: OpSignature
        public let implementation: (any Op)?

        public var isRunnable: Bool { implementation != nil }
    }

    public let entries: [Entry]

    public init(signatures: [OpSignature], implementations: [any Op]) {
        var entries: [Entry] = []
        var implemented: [String: any Op] = [:]
        for op in implementations { implemented[op.signature.name] = op }
        for signature in signatures {
            entries.append(Entry(signature: signature, implementation: implemented.removeValue(forKey: signature.name)))
        }
        // An implementation brings its own signature when it has no separate one.
        for op in implementations where implemented[op.signature.name] != nil {
            entries.append(Entry(signature: op.signature, implementation: op))
        }
        self.entries = entries
    }

    /// The signatures, for the compiler.
    public var signatures: OpSignatureSet { OpSignatureSet(entries.map(\.signature)) }

    public func entry(_ name: String) -> Entry? {
        entries.first { $0.signature.name == name }
    }

    /// The catalogue as JSON, each signature with whether it can run in this build.
    public var json: JSONValue {
        .array(entries.map { entry in
            guard case .object(var object) = entry.signature.json else { return entry.signature.json }
            object["runnable"] = .bool(entry.isRunnable)
            return .object(object)
        })
    }
}
