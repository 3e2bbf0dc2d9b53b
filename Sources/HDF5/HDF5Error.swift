/// A failure of an HDF5 operation: which file and object, what was being done, and HDF5's own account.
public struct HDF5Error: Error, Sendable, CustomStringConvertible {
    /// What kind of failure it is, for callers that react differently.
    public enum Kind: Sendable, Hashable {
        case fileNotFound
        case notHDF5
        case objectNotFound
        case typeMismatch
        case shapeMismatch
        case alreadyExists
        case invalidArgument
        case library
    }

    public var kind: Kind
    /// The file, as the caller named it.
    public var file: String
    /// The object's path inside the file (`/features`), when the failure concerns one.
    public var object: String?
    /// What went wrong, as a sentence a user can act on.
    public var message: String
    /// HDF5's error stack, outermost first, for the detailed description.
    public var stack: [String]

    public init(_ kind: Kind, file: String, object: String? = nil, _ message: String, stack: [String] = []) {
        self.kind = kind
        self.file = file
        self.object = object
        self.message = message
        self.stack = stack
    }

    public var description: String {
        if let object { return "\(file): \(object): \(message)" }
        return "\(file): \(message)"
    }

    /// The description followed by HDF5's error stack.
    public var detailedDescription: String {
        ([description] + stack.map { "  " + $0 }).joined(separator: "\n")
    }
}
