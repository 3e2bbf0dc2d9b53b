import Testing
@testable import PipelineLanguage

@Suite struct CronScheduleTests {
    /// 2026-11-27 09:00:00 UTC, a Friday.
    static let friday: Int64 = 1_795_770_000

    private func next(_ expression: String, after: Int64 = friday) throws -> Int64? {
        try CronSchedule(expression).nextFire(after: after)
    }

    @Test func civilDatesMatchKnownDays() {
        let date = CivilDate(daysSince1970: Self.friday / 86400)
        #expect((date.year, date.month, date.day, date.weekday) == (2026, 11, 27, 5))
        let leap = CivilDate(daysSince1970: 11_016)  // 2000-02-29
        #expect((leap.year, leap.month, leap.day, leap.weekday) == (2000, 2, 29, 2))
    }

    @Test(arguments: [
        ("* * * * *", friday + 60),
        ("0 * * * *", friday + 3600),
        ("30 9 * * *", friday + 1800),
        ("0 3 * * 1", friday + 2 * 86400 + 18 * 3600),  // Monday 03:00
        ("0 3 * * mon", friday + 2 * 86400 + 18 * 3600),
        ("*/15 * * * *", friday + 900),
        ("0 0 1 * *", 1_796_083_200),  // 2026-12-01
        ("0 0 1 jan *", 1_798_761_600),  // 2027-01-01
        ("@daily", friday + 15 * 3600),
        ("@hourly", friday + 3600),
        ("0 12 * * 0,6", friday + 86400 + 3 * 3600),  // Saturday noon
        ("0 12 * * 7", friday + 2 * 86400 + 3 * 3600),  // Sunday noon (7 is Sunday)
        ("0 0 13 * 5", 1_796_342_400),  // the 13th or a Friday: Friday 2026-12-04 comes first
        ("0 0 29 2 *", 1_835_395_200),  // 2028-02-29
    ])
    func nextFireTimes(expression: String, expected: Int64) throws {
        #expect(try next(expression) == expected)
    }

    @Test(arguments: [
        ("* * * *", "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has 4"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("* 24 * * *", "hour 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month 0 is out of range 1-31"),
        ("* * * 13 *", "month 13 is out of range 1-12"),
        ("* * * * 8", "day-of-week 8 is out of range 0-7"),
        ("*/0 * * * *", "the step '0' in the minute field must be a positive number"),
        ("5-1 * * * *", "the range 5-1 in the minute field runs backwards"),
        ("* * * * funday", "'funday' is not a valid day-of-week"),
        ("1,,2 * * * *", "the minute field '1,,2' has an empty list item"),
        ("@fortnightly", "unknown shorthand '@fortnightly'; use @hourly, @daily, @weekly, @monthly or @yearly"),
        ("0 0 30 2 *", "the expression can never fire: no month of feb has day 30"),
        ("0 0 31 2,4 *", "the expression can never fire: no month of feb,apr has day 31"),
    ])
    func rejectsInvalidExpressions(expression: String, message: String) {
        let error = thrownError(CronSchedule.ParseError.self) { _ = try CronSchedule(expression) }
        #expect(error?.message == message)
    }
}

@Suite struct QuantityTests {
    @Test(arguments: [("90s", 90.0), ("30m", 1800), ("1h30m", 5400), ("2d", 172_800), ("500ms", 0.5), ("1.5h", 5400)])
    func durations(text: String, seconds: Double) {
        #expect(Quantity.seconds(text) == seconds)
    }

    @Test(arguments: ["", "30", "m", "30 minutes", "1x", "-5s"])
    func invalidDurations(text: String) {
        #expect(Quantity.seconds(text) == nil)
    }

    @Test(arguments: [("512MiB", Int64(536_870_912)), ("4GiB", 4_294_967_296), ("4Gi", 4_294_967_296), ("2GB", 2_000_000_000), ("2G", 2_000_000_000), ("1024", 1024), ("1.5KiB", 1536)])
    func memorySizes(text: String, bytes: Int64) {
        #expect(Quantity.bytes(text) == bytes)
    }

    @Test(arguments: ["", "lots", "4 gigs", "4gib", "GiB", "99999999999TiB"])
    func invalidMemorySizes(text: String) {
        #expect(Quantity.bytes(text) == nil)
    }
}
