import Foundation

/// Durations as the engine's messages and views write them.
extension Duration {
    /// `0.4s`, `12s`, `3m05s`, `1h02m`.
    public var short: String {
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        if seconds < 10 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds)
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        return String(format: "%dh%02dm", whole / 3600, whole % 3600 / 60)
    }
}
