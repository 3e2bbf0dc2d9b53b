/// A five-field cron expression (`minute hour day-of-month month day-of-week`), evaluated in UTC.
///
/// Fields take `*`, numbers, ranges (`1-5`), lists (`1,15`), steps (`*/15`, `0-30/5`), and month and
/// weekday names (`jan`, `mon-fri`); `@hourly`, `@daily`, `@weekly`, `@monthly` and `@yearly` are
/// shorthands. As in Vixie cron, when both day fields are restricted a day matching either one fires.
public struct CronSchedule: Hashable, Sendable, CustomStringConvertible {
    public let expression: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    public var description: String { expression }

    /// A problem with a cron expression, naming the field at fault.
    public struct ParseError: Error, Hashable, Sendable {
        public var message: String
    }

    private static let shorthands = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(_ expression: String) throws(ParseError) {
        let trimmed = expression.trimmingSpaces
        let expanded = Self.shorthands[trimmed.lowercased()] ?? trimmed
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            if trimmed.hasPrefix("@") {
                throw ParseError(message: "unknown shorthand '\(trimmed)'; use @hourly, @daily, @weekly, @monthly or @yearly")
            }
            throw ParseError(
                message: "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has \(fields.count)"
            )
        }
        self.expression = trimmed
        minutes = try Self.field(fields[0], name: "minute", range: 0...59, names: [])
        hours = try Self.field(fields[1], name: "hour", range: 0...23, names: [])
        daysOfMonth = try Self.field(fields[2], name: "day-of-month", range: 1...31, names: [])
        months = try Self.field(fields[3], name: "month", range: 1...12, names: Self.monthNames, nameBase: 1)
        // 7 is Sunday too, as in most crons.
        let weekdays = try Self.field(fields[4], name: "day-of-week", range: 0...7, names: Self.dayNames)
        daysOfWeek = Set(weekdays.map { $0 % 7 })
        dayOfMonthRestricted = fields[2] != "*"
        dayOfWeekRestricted = fields[4] != "*"
        // With the weekday unrestricted, a day of the month must exist in one of the months.
        let longestMonth = [1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31]
        if !dayOfWeekRestricted, !months.contains(where: { month in daysOfMonth.contains { $0 <= longestMonth[month]! } }) {
            let days = daysOfMonth.sorted().map(String.init).joined(separator: ",")
            let names = months.sorted().map { Self.monthNames[$0 - 1] }.joined(separator: ",")
            throw ParseError(message: "the expression can never fire: no month of \(names) has day \(days)")
        }
    }

    private static func field(
        _ text: String,
        name: String,
        range: ClosedRange<Int>,
        names: [String],
        nameBase: Int = 0
    ) throws(ParseError) -> Set<Int> {
        func number(_ token: Substring) throws(ParseError) -> Int {
            if let value = Int(token) {
                guard range.contains(value) else {
                    throw ParseError(message: "\(name) \(value) is out of range \(range.lowerBound)-\(range.upperBound)")
                }
                return value
            }
            if let index = names.firstIndex(of: token.lowercased()) { return index + nameBase }
            throw ParseError(message: "'\(token)' is not a valid \(name)")
        }
        var values: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw ParseError(message: "the \(name) field '\(text)' has an empty list item") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw ParseError(message: "'\(part)' has more than one '/' in the \(name) field") }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else {
                    throw ParseError(message: "the step '\(pieces[1])' in the \(name) field must be a positive number")
                }
                step = parsed
            }
            let base = pieces[0]
            var low: Int
            var high: Int
            if base == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else if let dash = base.firstIndex(of: "-") {
                low = try number(base[..<dash])
                high = try number(base[base.index(after: dash)...])
                guard low <= high else {
                    throw ParseError(message: "the range \(base) in the \(name) field runs backwards")
                }
            } else {
                low = try number(base)
                high = pieces.count == 2 ? range.upperBound : low
            }
            values.formUnion(stride(from: low, through: high, by: step))
        }
        return values
    }

    /// The first time strictly after `date` at which the schedule fires, in seconds since 1970 UTC.
    ///
    /// Searches day by day over at most eight years, so a valid expression always finds its next time
    /// (February 29th fires only in leap years).
    public func nextFire(after secondsSince1970: Int64) -> Int64? {
        var minuteStart = (secondsSince1970 / 60 + 1) * 60
        for _ in 0..<(366 * 8) {
            let day = minuteStart >= 0 ? minuteStart / 86400 : (minuteStart - 86399) / 86400
            let civil = CivilDate(daysSince1970: day)
            if months.contains(civil.month), matchesDay(civil) {
                let secondOfDay = Int(minuteStart - day * 86400)
                let startMinute = secondOfDay / 60
                for minuteOfDay in startMinute..<1440 where hours.contains(minuteOfDay / 60) && minutes.contains(minuteOfDay % 60) {
                    return day * 86400 + Int64(minuteOfDay) * 60
                }
            }
            minuteStart = (day + 1) * 86400
        }
        return nil
    }

    private func matchesDay(_ date: CivilDate) -> Bool {
        let dayOfMonth = daysOfMonth.contains(date.day)
        let dayOfWeek = daysOfWeek.contains(date.weekday)
        switch (dayOfMonthRestricted, dayOfWeekRestricted) {
        case (true, true): return dayOfMonth || dayOfWeek
        case (true, false): return dayOfMonth
        case (false, true): return dayOfWeek
        case (false, false): return true
        }
    }
}

/// A proleptic Gregorian date from a day count, without Foundation's calendars or time zones.
struct CivilDate {
    var year: Int64
    var month: Int
    var day: Int
    /// 0 is Sunday.
    var weekday: Int

    init(daysSince1970 days: Int64) {
        // Howard Hinnant's days_from_civil inverse.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        month = Int(mp < 10 ? mp + 3 : mp - 9)
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let w = (days + 4) % 7
        weekday = Int(w >= 0 ? w : w + 7)
    }
}
