import Foundation

/// Reads a CSV file record by record, in blocks, with bounded memory.
///
/// RFC 4180 with the usual liberties: a header row, fields separated by one byte, fields quoted
/// with `"` (a quote inside written `""`) that may hold separators and line breaks, `\n` or `\r\n`
/// line ends, a UTF-8 byte order mark, and blank lines, which are skipped.
final class CSVReader {
    let path: String
    let separator: UInt8
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false
    /// The next line to read, 1-based.
    private var line = 1
    /// The line the record last returned by ``nextRecord()`` starts on.
    private(set) var recordLine = 0
    private var fields: [Range<Int>] = []
    private var unescaped: [Int: [UInt8]] = [:]
    /// Bytes read at a time.
    var blockSize = 1 << 22

    init(path: String, separator: UInt8) throws(DatasetError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DatasetError(file: path, FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file")
        }
        self.path = path
        self.separator = separator
        self.handle = handle
    }

    func close() {
        try? handle.close()
    }

    /// Reads more of the file, keeping the bytes from `keep` on. Returns false at the end of the file.
    private func refill(keeping keep: Int) throws(DatasetError) -> Bool {
        guard !atEnd else { return false }
        let block: Data?
        do {
            block = try handle.read(upToCount: blockSize)
        } catch {
            throw DatasetError(file: path, "cannot read the file: \(error.localizedDescription)")
        }
        buffer.removeSubrange(0..<keep)
        position -= keep
        guard let block, !block.isEmpty else {
            atEnd = true
            return false
        }
        if buffer.isEmpty, position == 0, line == 1, block.starts(with: [0xEF, 0xBB, 0xBF]) {
            buffer.append(contentsOf: block.dropFirst(3))
        } else {
            buffer.append(contentsOf: block)
        }
        return true
    }

    /// The next record's fields as byte ranges into ``bytes(of:)``, or nil at the end of the file.
    /// Blank lines are skipped.
    func nextRecord() throws(DatasetError) -> Int? {
        while true {
            let start = position
            let startLine = line
            fields.removeAll(keepingCapacity: true)
            unescaped.removeAll(keepingCapacity: true)
            switch try parseRecord(from: start) {
            case .complete(let end, let lines):
                position = end
                line += lines
                // A record of one empty field is a blank line.
                if fields.count == 1, fields[0].isEmpty, unescaped.isEmpty { continue }
                recordLine = startLine
                return fields.count
            case .needMore:
                position = start
                if try !refill(keeping: start) {
                    // The last record has no line end.
                    if position < buffer.count {
                        fields.removeAll(keepingCapacity: true)
                        unescaped.removeAll(keepingCapacity: true)
                        switch try parseRecord(from: position, atEndOfFile: true) {
                        case .complete(let end, let lines):
                            position = end
                            recordLine = line
                            line += lines
                            if fields.count == 1, fields[0].isEmpty, unescaped.isEmpty { return nil }
                            return fields.count
                        case .needMore:
                            return nil
                        }
                    }
                    return nil
                }
            }
        }
    }

    private enum Parse {
        case complete(end: Int, lines: Int)
        case needMore
    }

    private func parseRecord(from start: Int, atEndOfFile: Bool = false) throws(DatasetError) -> Parse {
        // The record's fields are collected in locals and handed back once, so the loop does not
        // pay for an access check on the reader's properties at every byte.
        var fields: [Range<Int>] = []
        var unescaped: [Int: [UInt8]] = [:]
        swap(&fields, &self.fields)
        swap(&unescaped, &self.unescaped)
        defer {
            swap(&fields, &self.fields)
            swap(&unescaped, &self.unescaped)
        }
        let line = self.line
        let separator = self.separator
        let path = self.path
        var index = start
        var lines = 0
        let count = buffer.count
        return try buffer.withUnsafeBufferPointer { bytes throws(DatasetError) -> Parse in
            while true {
                // One field.
                if index < count, bytes[index] == UInt8(ascii: "\"") {
                    let openingLine = line + lines
                    var content: [UInt8] = []
                    var cursor = index + 1
                    var closed = false
                    while cursor < count {
                        let byte = bytes[cursor]
                        if byte == UInt8(ascii: "\"") {
                            if cursor + 1 < count, bytes[cursor + 1] == UInt8(ascii: "\"") {
                                content.append(UInt8(ascii: "\""))
                                cursor += 2
                                continue
                            }
                            if cursor + 1 >= count, !atEndOfFile { return .needMore }
                            closed = true
                            cursor += 1
                            break
                        }
                        if byte == UInt8(ascii: "\n") { lines += 1 }
                        content.append(byte)
                        cursor += 1
                    }
                    guard closed else {
                        if !atEndOfFile { return .needMore }
                        throw DatasetError(file: path, place: "line \(openingLine)", "a quoted field opened here is not closed; add the closing \"")
                    }
                    guard cursor >= count || bytes[cursor] == separator || bytes[cursor] == UInt8(ascii: "\n") || bytes[cursor] == UInt8(ascii: "\r") else {
                        throw DatasetError(file: path, place: "line \(line + lines)", "unexpected text after a quoted field; quote the whole field")
                    }
                    unescaped[fields.count] = content
                    fields.append(index..<index)
                    index = cursor
                } else {
                    let fieldStart = index
                    while index < count, bytes[index] != separator, bytes[index] != UInt8(ascii: "\n") {
                        index += 1
                    }
                    var fieldEnd = index
                    if index >= count, !atEndOfFile { return .needMore }
                    if fieldEnd > fieldStart, bytes[fieldEnd - 1] == UInt8(ascii: "\r"), index >= count || bytes[index] == UInt8(ascii: "\n") {
                        fieldEnd -= 1
                    }
                    fields.append(fieldStart..<fieldEnd)
                }
                // What ends the field.
                if index >= count {
                    if !atEndOfFile { return .needMore }
                    return .complete(end: index, lines: lines + 1)
                }
                let byte = bytes[index]
                if byte == separator {
                    index += 1
                    continue
                }
                if byte == UInt8(ascii: "\r") {
                    if index + 1 >= count, !atEndOfFile { return .needMore }
                    index += 1
                    if index < count, bytes[index] == UInt8(ascii: "\n") { index += 1 }
                    return .complete(end: index, lines: lines + 1)
                }
                // A line end.
                return .complete(end: index + 1, lines: lines + 1)
            }
        }
    }

    /// The current record, seen at once: each field's range in `bytes`, and the unescaped text of its
    /// quoted fields by index. One access to the reader's storage for the whole record.
    func withRecord<Result>(
        _ body: (_ fields: [Range<Int>], _ bytes: UnsafeBufferPointer<UInt8>, _ quoted: [Int: [UInt8]]) throws(DatasetError) -> Result
    ) throws(DatasetError) -> Result {
        let fields = self.fields
        let quoted = self.unescaped
        return try buffer.withUnsafeBufferPointer { bytes throws(DatasetError) in try body(fields, bytes, quoted) }
    }

    /// The number in field `index` of a record as ``withRecord(_:)`` hands it over, or nil when
    /// the field is not one.
    static func number(_ index: Int, fields: [Range<Int>], bytes: UnsafeBufferPointer<UInt8>, quoted: [Int: [UInt8]]) -> Double? {
        if !quoted.isEmpty, let content = quoted[index] {
            return content.withUnsafeBufferPointer { NumberParser.double($0) }
        }
        return NumberParser.double(UnsafeBufferPointer(rebasing: bytes[fields[index]]))
    }

    func string(_ index: Int) -> String {
        if !unescaped.isEmpty, let content = unescaped[index] { return String(decoding: content, as: UTF8.self) }
        return String(decoding: buffer[fields[index]], as: UTF8.self)
    }
}

/// Fast, correctly rounded parsing of decimal numbers from bytes.
public enum NumberParser {
    private static let powers: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// The number written in `bytes`, trimmed of spaces, or nil when it is not a number.
    ///
    /// Plain decimals with up to 15 significant digits and a small exponent are computed exactly
    /// (Clinger's fast path); anything else goes through the C library's correctly rounded strtod.
    public static func double(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
        while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        guard start < end else { return nil }
        var index = start
        var negative = false
        if bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var sawDigit = false
        while index < end, bytes[index] &- UInt8(ascii: "0") < 10 {
            if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(bytes[index] &- UInt8(ascii: "0")) } else { exponent += 1 }
            if mantissa != 0 { digits += 1 }
            sawDigit = true
            index += 1
        }
        if index < end, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < end, bytes[index] &- UInt8(ascii: "0") < 10 {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(bytes[index] &- UInt8(ascii: "0"))
                    exponent -= 1
                    if mantissa != 0 { digits += 1 }
                }
                sawDigit = true
                index += 1
            }
        }
        guard sawDigit else { return slow(bytes, start, end) }
        if index < end, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            return slow(bytes, start, end)
        }
        guard index == end else { return nil }
        if digits <= 15, exponent >= -22, exponent <= 22 {
            var value = Double(mantissa)
            value = exponent < 0 ? value / powers[-exponent] : value * powers[exponent]
            return negative ? -value : value
        }
        return slow(bytes, start, end)
    }

    private static func slow(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        guard let value = Double(text) else { return nil }
        // "inf", "nan" and hexadecimal floats are not data values.
        let lowered = text.lowercased()
        if lowered.contains("n") || lowered.contains("x") || lowered.contains("i") { return nil }
        return value
    }
}
