internal import COpenBLAS

/// The number of threads OpenBLAS uses, process-wide.
///
/// A task sets it from its CPU budget so that concurrent tasks do not oversubscribe the cores. For a
/// fixed thread count OpenBLAS's results are repeatable; a different count may change the last bits
/// of a sum, which is why a checkpoint records the count it was trained with.
public enum BLAS {
    public static var threadCount: Int {
        Int(openblas_get_num_threads())
    }

    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }
}
