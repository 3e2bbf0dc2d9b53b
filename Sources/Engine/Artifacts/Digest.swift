import BlacktailData
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

    /// The digest and size of a file (the hashing is the dataset format's, shared).
    public static func sha256(ofFile path: String) throws -> (digest: String, size: Int64) {
        let digest: String
        do {
            digest = try DatasetFile.sha256(ofFile: path)
        } catch {
            throw EngineError(error.description)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
        return (digest, size)
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
