public import BlacktailData
import HDF5

/// Model checkpoints (docs/formats.md): the root's `format` attribute, and groups for the
/// preprocessing, the parameters and the training state. The scaler that data/normalize writes is
/// a checkpoint with only `/preprocessing`.
public enum CheckpointFile {
    public static let format = "blacktail.checkpoint/1"

    public static func writePreprocessing(_ scaler: Scaler, to path: String, createdBy: String) throws {
        let file = try HDF5File.create(at: path, overwrite: true)
        defer { file.close() }
        let root = try file.root
        try root.setAttribute("format", .string(format))
        try root.setAttribute("kind", .string("preprocessing"))
        try root.setAttribute("created_by", .string(createdBy))
        try scaler.write(to: root)
    }

    /// The scaling saved in a checkpoint, or nil when it has none.
    public static func readPreprocessing(_ path: String) throws -> Scaler? {
        try HDF5File.withFile(at: path) { file in try Scaler.read(from: file.root) }
    }
}

