import Foundation
import HDF5
import Subprocess
import SystemPackage

/// Reads an HDF5 file of unknown origin whole in a child process before this process opens it.
///
/// A damaged HDF5 file usually makes the HDF5 library report an error, but some make it crash
/// (a segfault inside `H5Aread` or `H5HG_read`) or loop without end. In a worker that would end
/// the worker and every task it runs. The child (`blacktail data verify --here FILE`) reads every
/// group, dataset and attribute; if it dies by a signal or passes its time limit, the file is
/// reported as damaged and nothing in this process ever opens it. The child also ends itself
/// (`alarm`) shortly after its time limit, so that it cannot outlive a parent killed meanwhile.
public struct HDF5Verifier: Sendable {
    /// The `blacktail` executable the child runs.
    public var executable: String
    /// The reading's time limit: this many seconds, plus one second per `bytesPerSecond` of the file.
    public var baseSeconds: Double = 60
    public var bytesPerSecond: Double = 20_000_000

    public init(executable: String) {
        self.executable = executable
    }

    /// A verifier that runs this very program, for the processes of the `blacktail` command.
    public static func thisProgram() -> HDF5Verifier {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return HDF5Verifier(executable: path)
    }

    /// The seconds the child may read `path` for.
    public func timeLimit(for path: String) -> Double {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
        return baseSeconds + Double(size) / bytesPerSecond
    }

    /// Reads `path` whole in a child process; returns what was read ("1 group, 3 datasets, ...").
    /// - Throws: ``EngineError`` saying what is wrong with the file: the error the child met, or
    ///   that the HDF5 library crashed or did not finish reading it.
    public func verify(_ path: String, timeoutSeconds: Double? = nil) async throws -> String {
        let limit = timeoutSeconds ?? timeLimit(for: path)
        let run: @Sendable () async throws -> (TerminationStatus, String, String) = { [executable] in
            let result = try await Subprocess.run(
                .path(FilePath(executable)), arguments: ["data", "verify", "--here", path, "--timeout", String(limit)],
                // A crash ends the child at once, without Swift's backtrace.
                environment: .inherit.updating(["SWIFT_BACKTRACE": "enable=no"]),
                output: .string(limit: 1 << 20), error: .string(limit: 1 << 20)
            )
            return (result.terminationStatus, result.standardOutput, result.standardError)
        }
        guard let (status, output, error) = try await withTimeLimit(limit, run) else {
            throw EngineError("\(path): reading it did not finish within \(Int(limit.rounded())) s; a damaged HDF5 file can make the HDF5 library loop without end")
        }
        switch status {
        case .exited(0):
            return output.trimmingCharacters(in: .whitespacesAndNewlines)
        case .exited(1) where !error.isEmpty:
            // The child's own report, which names the file and the object.
            let message = error.trimmingCharacters(in: .whitespacesAndNewlines)
            throw EngineError(message.hasPrefix("error: ") ? String(message.dropFirst(7)) : message)
        case .signaled:
            throw EngineError("\(path): the HDF5 library crashed reading it (its reader \(CommandRunner.describe(status))); the file is damaged")
        default:
            throw EngineError("\(path): its reader (\(executable) data verify) \(CommandRunner.describe(status))\(error.isEmpty ? "" : ": " + error.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}

extension HDF5Verifier {
    /// Verifies a stored file that is HDF5, unless it is known to read whole, and marks it so
    /// when it reads whole.
    public func verify(stored digest: String, in store: ArtifactStore) async throws {
        guard !store.readsWhole(digest) else { return }
        let path = store.path(of: digest)
        guard HDF5File.hasSignature(atPath: path) else { return }
        _ = try await verify(path)
        store.markReadsWhole(digest)
    }
}
