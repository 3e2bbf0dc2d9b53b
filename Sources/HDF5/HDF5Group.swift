internal import CHDF5

/// A group: a folder of datasets and groups inside an HDF5 file.
public final class HDF5Group: HDF5Object {
    static func open(in file: HDF5File, path: String) throws(HDF5Error) -> HDF5Group {
        HDF5Library.ensureInitialized()
        guard file.handle.isOpen else { throw HDF5Error(.invalidArgument, file: file.path, object: path, "the file is closed") }
        let id = H5Gopen2(file.handle.id, path, bt_H5P_DEFAULT())
        guard id >= 0 else { throw HDF5Library.error(.objectNotFound, file: file.path, object: path, "no such group") }
        return HDF5Group(file: file, path: path, handle: HDF5Handle(id, .group))
    }

    private func childPath(_ name: String) -> String {
        name.hasPrefix("/") ? name : (path == "/" ? "/" + name : path + "/" + name)
    }

    /// Whether a link of this name (or relative path) exists in the group.
    public func contains(_ name: String) -> Bool {
        HDF5Library.ensureInitialized()
        // Each level of a path must exist before the next is asked about.
        var prefix = name.hasPrefix("/") ? "/" : ""
        for part in name.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
            guard H5Lexists(handle.id, prefix, bt_H5P_DEFAULT()) > 0 else { return false }
        }
        return true
    }

    /// The names of the group's members, in name order.
    public var memberNames: [String] {
        get throws(HDF5Error) {
            HDF5Library.ensureInitialized()
            var info = H5G_info_t()
            guard H5Gget_info(handle.id, &info) >= 0 else { throw failure("cannot list the group") }
            let names = HDF5Library.names(count: Int(info.nlinks)) { index, buffer, size in
                H5Lget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), buffer, size, bt_H5P_DEFAULT())
            }
            guard let names else { throw failure("cannot read a member's name") }
            return names
        }
    }

    /// Whether the member is a dataset (false for groups and missing names).
    public func isDataset(_ name: String) -> Bool {
        HDF5Library.ensureInitialized()
        guard contains(name) else { return false }
        var info = H5O_info_t()
        guard H5Oget_info_by_name2(handle.id, name, &info, UInt32(H5O_INFO_BASIC), bt_H5P_DEFAULT()) >= 0 else {
            _ = HDF5Library.takeErrorStack()
            return false
        }
        return info.type == H5O_TYPE_DATASET
    }

    public func group(_ name: String) throws(HDF5Error) -> HDF5Group {
        HDF5Library.ensureInitialized()
        guard contains(name) else { throw HDF5Error(.objectNotFound, file: file.path, object: childPath(name), "no such group") }
        let id = H5Gopen2(handle.id, name, bt_H5P_DEFAULT())
        guard id >= 0 else { throw HDF5Library.error(.objectNotFound, file: file.path, object: childPath(name), "cannot open the group") }
        return HDF5Group(file: file, path: childPath(name), handle: HDF5Handle(id, .group))
    }

    /// Creates a group, and any missing groups on its path.
    public func createGroup(_ name: String) throws(HDF5Error) -> HDF5Group {
        HDF5Library.ensureInitialized()
        guard !contains(name) else { throw HDF5Error(.alreadyExists, file: file.path, object: childPath(name), "it exists already") }
        let links = HDF5Handle(H5Pcreate(bt_H5P_LINK_CREATE()), .propertyList)
        H5Pset_create_intermediate_group(links.id, 1)
        let creation = HDF5Handle(H5Pcreate(bt_H5P_GROUP_CREATE()), .propertyList)
        H5Pset_obj_track_times(creation.id, false)
        let id = H5Gcreate2(handle.id, name, links.id, creation.id, bt_H5P_DEFAULT())
        guard id >= 0 else { throw HDF5Library.error(file: file.path, object: childPath(name), "cannot create the group") }
        return HDF5Group(file: file, path: childPath(name), handle: HDF5Handle(id, .group))
    }

    /// Opens a dataset by name or relative path.
    /// - Throws: ``HDF5Error`` of kind `objectNotFound` when there is none.
    public func dataset(_ name: String) throws(HDF5Error) -> HDF5Dataset {
        HDF5Library.ensureInitialized()
        guard contains(name) else { throw HDF5Error(.objectNotFound, file: file.path, object: childPath(name), "no such dataset") }
        let id = H5Dopen2(handle.id, name, bt_H5P_DEFAULT())
        guard id >= 0 else { throw HDF5Library.error(.objectNotFound, file: file.path, object: childPath(name), "cannot open the dataset") }
        return try HDF5Dataset.opened(file: file, path: childPath(name), handle: HDF5Handle(id, .dataset))
    }

    /// Creates a dataset of `shape` (the first dimension counts rows).
    ///
    /// With ``HDF5DatasetLayout/extendable`` the first dimension may grow with
    /// ``HDF5Dataset/append(_:)``; it starts at `shape[0]` rows.
    public func createDataset(
        _ name: String,
        of elementType: HDF5ElementType,
        shape: [Int],
        layout: HDF5DatasetLayout = .contiguous
    ) throws(HDF5Error) -> HDF5Dataset {
        HDF5Library.ensureInitialized()
        let objectPath = childPath(name)
        guard !contains(name) else { throw HDF5Error(.alreadyExists, file: file.path, object: objectPath, "it exists already") }
        guard shape.allSatisfy({ $0 >= 0 }), !(shape.isEmpty && layout.isChunked) else {
            throw HDF5Error(.invalidArgument, file: file.path, object: objectPath, "invalid shape \(shape) for a \(layout) dataset")
        }
        var dimensions = shape.map { hsize_t($0) }
        var maximum = dimensions
        let creation = HDF5Handle(H5Pcreate(bt_H5P_DATASET_CREATE()), .propertyList)
        // No modification times in object headers: the same content gives the same bytes.
        H5Pset_obj_track_times(creation.id, false)
        if case .chunked(let rows, let compression, let shuffle, let extendable) = layout {
            let rowElements = shape.dropFirst().reduce(1, *)
            let elementBytes = elementType == .string ? 16 : 8
            // About 1 MiB a chunk unless asked otherwise.
            let chunkRows = max(1, rows ?? (1 << 20) / max(1, rowElements * elementBytes))
            var chunk = [hsize_t(chunkRows)] + shape.dropFirst().map { hsize_t(max(1, $0)) }
            if !extendable, let first = shape.first, first > 0 { chunk[0] = min(chunk[0], hsize_t(first)) }
            if extendable { maximum[0] = bt_H5S_UNLIMITED() }
            guard H5Pset_chunk(creation.id, Int32(chunk.count), &chunk) >= 0 else {
                throw HDF5Library.error(file: file.path, object: objectPath, "cannot set the chunk size")
            }
            if shuffle { H5Pset_shuffle(creation.id) }
            if let level = compression {
                guard H5Pset_deflate(creation.id, UInt32(min(max(level, 0), 9))) >= 0 else {
                    throw HDF5Library.error(file: file.path, object: objectPath, "gzip compression is not available")
                }
            }
        }
        let space = HDF5Handle(
            shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dimensions.count), &dimensions, &maximum),
            .dataspace
        )
        let (type, owned) = elementType.memoryType()
        defer { if owned { H5Tclose(type) } }
        let links = HDF5Handle(H5Pcreate(bt_H5P_LINK_CREATE()), .propertyList)
        H5Pset_create_intermediate_group(links.id, 1)
        let id = H5Dcreate2(handle.id, name, type, space.id, links.id, creation.id, bt_H5P_DEFAULT())
        guard id >= 0 else { throw HDF5Library.error(file: file.path, object: objectPath, "cannot create the dataset") }
        return try HDF5Dataset.opened(file: file, path: objectPath, handle: HDF5Handle(id, .dataset))
    }

    /// Creates a dataset and writes `values` into it.
    @discardableResult
    public func writeDataset<Element: HDF5Element>(
        _ name: String,
        _ values: [Element],
        shape: [Int]? = nil,
        layout: HDF5DatasetLayout = .contiguous
    ) throws(HDF5Error) -> HDF5Dataset {
        let dataset = try createDataset(name, of: Element.hdf5ElementType, shape: shape ?? [values.count], layout: layout)
        try dataset.write(values)
        return dataset
    }

    /// Creates a dataset of strings and writes them.
    @discardableResult
    public func writeDataset(_ name: String, strings: [String]) throws(HDF5Error) -> HDF5Dataset {
        HDF5Library.ensureInitialized()
        let dataset = try createDataset(name, of: .string, shape: [strings.count])
        try dataset.write(strings: strings)
        return dataset
    }
}

/// How a dataset's data is laid out in the file.
public enum HDF5DatasetLayout: Sendable, Hashable, CustomStringConvertible {
    /// One block; the simplest and fastest for data written once and read whole.
    case contiguous
    /// Chunks of `rows` rows (about 1 MiB when nil), optionally gzip-compressed (level 0-9) with the
    /// shuffle filter before it; `extendable` lets rows be appended.
    case chunked(rows: Int? = nil, gzip: Int? = nil, shuffle: Bool = false, extendable: Bool = false)

    var isChunked: Bool {
        if case .chunked = self { true } else { false }
    }

    public var description: String {
        switch self {
        case .contiguous: "contiguous"
        case .chunked(_, let gzip, _, let extendable): "chunked\(gzip.map { " gzip \($0)" } ?? "")\(extendable ? " extendable" : "")"
        }
    }
}
