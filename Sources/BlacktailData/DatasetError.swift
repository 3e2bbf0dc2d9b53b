public import HDF5

/// A problem with a dataset: a file that is not a Blacktail dataset, bad CSV input, or bad arguments.
public struct DatasetError: Error, Sendable, CustomStringConvertible {
    /// The file concerned, as the caller named it.
    public var file: String
    /// Where in the file: an object path (`/features`) or a CSV position (`row 12, column 3 ('age')`).
    public var place: String?
    public var message: String

    public init(file: String, place: String? = nil, _ message: String) {
        self.file = file
        self.place = place
        self.message = message
    }

    public init(_ error: HDF5Error) {
        self.init(file: error.file, place: error.object, error.message)
    }

    public var description: String {
        place.map { "\(file): \($0): \(message)" } ?? "\(file): \(message)"
    }
}

/// Runs HDF5 work, turning its errors into dataset errors.
func hdf5<Result>(_ body: () throws(HDF5Error) -> Result) throws(DatasetError) -> Result {
    do {
        return try body()
    } catch {
        throw DatasetError(error)
    }
}
