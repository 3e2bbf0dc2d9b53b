import GRDB
import GRDBSQLite

/// The current row of a statement's result, read in place.
///
/// GRDB's `Row` maps every column's name and copies every value before the first is read; on the
/// queue's hot paths (a task's row has 24 columns, read several times per report) that costs more
/// than SQLite's own work. A reader is valid only inside the closure it is handed to.
struct SQLiteColumns {
    fileprivate let statement: SQLiteStatement

    func isNull(_ index: Int32) -> Bool {
        sqlite3_column_type(statement, index) == SQLITE_NULL
    }

    func int64(_ index: Int32) -> Int64 {
        sqlite3_column_int64(statement, index)
    }

    func int(_ index: Int32) -> Int {
        Int(sqlite3_column_int64(statement, index))
    }

    func bool(_ index: Int32) -> Bool {
        sqlite3_column_int64(statement, index) != 0
    }

    func double(_ index: Int32) -> Double {
        sqlite3_column_double(statement, index)
    }

    /// The text, or "" for NULL.
    func string(_ index: Int32) -> String {
        guard let text = sqlite3_column_text(statement, index) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, index))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    func optionalString(_ index: Int32) -> String? {
        isNull(index) ? nil : string(index)
    }

    func optionalDouble(_ index: Int32) -> Double? {
        isNull(index) ? nil : double(index)
    }

    func optionalInt(_ index: Int32) -> Int? {
        isNull(index) ? nil : int(index)
    }
}

extension Database {
    /// Runs a query (prepared once per connection) and hands each result row to `body`.
    func forEachRow(sql: String, arguments: StatementArguments, _ body: (SQLiteColumns) throws -> Void) throws {
        try scanRows(sql: sql, arguments: arguments) { row in
            try body(row)
            return true
        }
    }

    /// Runs a query (prepared once per connection) and hands its result rows to `body` until it
    /// returns false: rows not asked for are not read.
    func scanRows(sql: String, arguments: StatementArguments, _ body: (SQLiteColumns) throws -> Bool) throws {
        let statement = try cachedStatement(sql: sql)
        try statement.setArguments(arguments)
        defer { sqlite3_reset(statement.sqliteStatement) }
        let columns = SQLiteColumns(statement: statement.sqliteStatement)
        while true {
            switch sqlite3_step(statement.sqliteStatement) {
            case SQLITE_ROW:
                guard try body(columns) else { return }
            case SQLITE_DONE:
                return
            case let code:
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }, sql: sql)
            }
        }
    }

    /// The first result row of a query, read by `read`; nil when there is none.
    func firstRow<T>(sql: String, arguments: StatementArguments, _ read: (SQLiteColumns) throws -> T) throws -> T? {
        var first: T?
        try scanRows(sql: sql, arguments: arguments) { row in
            first = try read(row)
            return false
        }
        return first
    }
}
