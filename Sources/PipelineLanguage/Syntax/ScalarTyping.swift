/// How a plain YAML scalar becomes a typed value: YAML 1.2's core schema, without the surprises of
/// YAML 1.1 (`no` and `on` stay strings).
enum ScalarTyping {
    enum Failure: Error {
        case notFinite
        /// Digits that do not fit in a 64-bit int.
        case integerOutOfRange

        var code: String {
            switch self {
            case .notFinite: "not-finite"
            case .integerOutOfRange: "integer-out-of-range"
            }
        }

        func message(for text: String) -> String {
            switch self {
            case .notFinite: "'\(text)' is not a finite number"
            case .integerOutOfRange where text.hasPrefix("0x") || text.hasPrefix("0o"):
                "\(text) does not fit in an int (64 bits); quote it to make it a string"
            case .integerOutOfRange:
                "\(text) does not fit in an int (64 bits); write it as a float, like \(text).0, or quote it as a string"
            }
        }
    }

    static func value(of scalar: YAMLScalar) throws(Failure) -> Value {
        guard scalar.isPlain else { return .string(scalar.text) }
        let text = scalar.text
        if scalar.isNull { return .null }
        switch text {
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "-.inf", ".nan", ".NaN", ".NAN":
            throw .notFinite
        default: break
        }
        if let int = try integer(text) { return .int(int) }
        if isFloatLiteral(text), let double = Double(text) {
            guard double.isFinite else { throw .notFinite }
            return .float(double)
        }
        return .string(text)
    }

    /// The int a plain scalar writes (`42`, `-7`, `0x1F`, `0o17`), nil when it is no integer, and
    /// an error when it is one too large for 64 bits.
    private static func integer(_ text: String) throws(Failure) -> Int? {
        var digits = Substring(text)
        var radix = 10
        if text.hasPrefix("0x") {
            (digits, radix) = (digits.dropFirst(2), 16)
        } else if text.hasPrefix("0o") {
            (digits, radix) = (digits.dropFirst(2), 8)
        } else if digits.first == "+" || digits.first == "-" {
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.hexDigitValue.map { $0 < radix } == true }) else { return nil }
        guard let value = radix == 10 ? Int(text) : Int(digits, radix: radix) else { throw .integerOutOfRange }
        return value
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    private static func isFloatLiteral(_ text: String) -> Bool {
        var scalars = Substring(text).unicodeScalars[...]
        if let first = scalars.first, first == "+" || first == "-" { scalars = scalars.dropFirst() }
        let isDigit = { (s: Unicode.Scalar) in ("0"..."9").contains(s) }
        let integerDigits = scalars.prefix(while: isDigit).count
        scalars = scalars.dropFirst(integerDigits)
        var fractionDigits = 0
        if scalars.first == "." {
            scalars = scalars.dropFirst()
            fractionDigits = scalars.prefix(while: isDigit).count
            scalars = scalars.dropFirst(fractionDigits)
        }
        guard integerDigits + fractionDigits > 0 else { return false }
        if let e = scalars.first, e == "e" || e == "E" {
            scalars = scalars.dropFirst()
            if let sign = scalars.first, sign == "+" || sign == "-" { scalars = scalars.dropFirst() }
            let exponentDigits = scalars.prefix(while: isDigit).count
            guard exponentDigits > 0 else { return false }
            scalars = scalars.dropFirst(exponentDigits)
        }
        return scalars.isEmpty
    }
}
