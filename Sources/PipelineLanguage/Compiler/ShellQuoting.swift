import Foundation

/// Quoting of values interpolated into `run:` commands.
public enum ShellQuoting {
    /// The value as one shell word: unchanged when it has only characters no shell treats
    /// specially (`0.01`, `resnet-50`, `a/b.csv`), otherwise in single quotes, so that a parameter
    /// such as `x; rm -rf ~` stays data.
    public static func quoted(_ value: String) -> String {
        let isSafe = !value.isEmpty && value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ","),
                UInt8(ascii: ":"), UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "@"), UInt8(ascii: "%"):
                true
            default:
                false
            }
        }
        if isSafe { return value }
        return "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
