import Crypto
import Foundation

/// sha256 digests of bytes and files, as lowercase hex.
public enum Digest {
    public static func sha256(_ bytes: some DataProtocol) -> String {
        hex(SHA256.hash(data: bytes))
    }

    public static func sha256(_ text: String) -> String {
        sha256(Data(text.utf8))
    }

    /// The digest and size of a file, read in 1 MiB blocks.
    public static func sha256(ofFile path: String) throws -> (digest: String, size: Int64) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw EngineError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var size: Int64 = 0
        while true {
            let block = try handle.read(upToCount: 1 << 20) ?? Data()
            if block.isEmpty { break }
            size += Int64(block.count)
            hasher.update(data: block)
        }
        return (hex(hasher.finalize()), size)
    }

    /// A 64-bit seed from the first 16 hex digits of a digest.
    public static func seed(fromHex hex: String) -> UInt64 {
        UInt64(hex.prefix(16), radix: 16) ?? 0
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for byte in digest {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func isValid(_ digest: String) -> Bool {
        digest.utf8.count == 64 && digest.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// A failure of the engine the user can act on: a missing file, a corrupt artifact, a bad request.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
