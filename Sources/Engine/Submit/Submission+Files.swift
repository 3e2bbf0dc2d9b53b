import Foundation

extension Submission {
    /// The submission with every project file it reads replaced by the copy of it in `artifacts`
    /// (``TaskSpec/Argument/recordedFile(path:sha256:)``), so that a machine without the project
    /// folder (a cluster's agent) reads exactly the bytes that were submitted.
    public func recordingProjectFiles(in artifacts: ArtifactStore) throws -> Submission {
        var recorded = self
        var digests: [String: String] = [:]
        for index in recorded.tasks.indices {
            for argument in recorded.tasks[index].arguments.indices {
                guard case .projectFile(let relative) = recorded.tasks[index].arguments[argument].argument else { continue }
                if digests[relative] == nil {
                    let path = relative.hasPrefix("/") ? relative : "\(projectDirectory)/\(relative)"
                    guard FileManager.default.fileExists(atPath: path) else {
                        throw EngineError("step \(recorded.tasks[index].step): the project file \(relative) does not exist (looked in \(projectDirectory))")
                    }
                    digests[relative] = try artifacts.ingest(copying: path).digest
                }
                recorded.tasks[index].arguments[argument].argument = .recordedFile(path: relative, sha256: digests[relative]!)
            }
        }
        return recorded
    }

    /// The artifact digests the submission names itself (recorded project files and market
    /// models), which must be in the store that runs it.
    public var storedDigests: Set<String> {
        var digests: Set<String> = []
        for task in tasks {
            for named in task.arguments {
                switch named.argument {
                case .recordedFile(_, let digest), .pinned(let digest, _, _): digests.insert(digest)
                default: continue
                }
            }
        }
        return digests
    }

    /// The project files it reads from the submitter's folder, by relative path.
    public var projectFiles: [String] {
        tasks.flatMap { task in
            task.arguments.compactMap { named -> String? in
                if case .projectFile(let path) = named.argument { return path }
                return nil
            }
        }
    }
}
