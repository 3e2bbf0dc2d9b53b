/// A failure of the engine the user can act on: a missing file, a corrupt artifact, a bad request.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
