/// Parsing of the durations and memory sizes that pipeline files write as text.
enum Quantity {
    /// Parses `90s`, `30m`, `1h30m`, `2d`, `500ms`: a sum of number-unit pairs, in seconds.
    static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var rest = Substring(text.trimmingSpaces)
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            // "ms" comes before "m" in `units`, so "500ms" is never read as minutes.
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        return total.isFinite ? total : nil
    }

    /// Parses `512MiB`, `4GiB`, `4Gi`, `1.5GB`, `2G` (SI), or a plain number of bytes.
    static func bytes(_ text: String) -> Int64? {
        let text = text.trimmingSpaces
        let number = text.prefix { $0.isNumber || $0 == "." }
        guard !number.isEmpty, let value = Double(number) else { return nil }
        let unit = text.dropFirst(number.count).trimmingSpaces
        let scales: [String: Double] = [
            "": 1, "B": 1,
            "K": 1e3, "KB": 1e3, "kB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
            "Ki": 1024, "KiB": 1024, "Mi": 1_048_576, "MiB": 1_048_576,
            "Gi": 1_073_741_824, "GiB": 1_073_741_824, "Ti": 1_099_511_627_776, "TiB": 1_099_511_627_776,
        ]
        guard let scale = scales[unit] else { return nil }
        let bytes = (value * scale).rounded()
        guard bytes.isFinite, bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
