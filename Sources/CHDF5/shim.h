// HDF5 (Debian's libhdf5-dev, serial, 1.10) for Swift.
//
// Many HDF5 constants are macros that call H5open() first, or casts Swift cannot import; these
// accessors return them. The error-stack helper walks HDF5's stack into a buffer of text.
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

static inline hid_t bt_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t bt_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t bt_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline hsize_t bt_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }
static inline unsigned bt_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned bt_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned bt_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned bt_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline unsigned bt_H5F_OBJ_ALL(void) { return H5F_OBJ_ALL; }
static inline hid_t bt_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t bt_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t bt_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t bt_H5P_GROUP_CREATE(void) { return H5P_GROUP_CREATE; }
static inline hid_t bt_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }

static inline hid_t bt_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t bt_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t bt_H5T_NATIVE_INT8(void) { return H5T_NATIVE_INT8; }
static inline hid_t bt_H5T_NATIVE_INT16(void) { return H5T_NATIVE_INT16; }
static inline hid_t bt_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t bt_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t bt_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t bt_H5T_C_S1(void) { return H5T_C_S1; }
static inline size_t bt_H5T_VARIABLE(void) { return H5T_VARIABLE; }

/// Stops HDF5 printing its error stack to standard error; Blacktail reports errors itself.
static inline void bt_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct {
    char *buffer;
    size_t capacity;
    size_t length;
} bt_error_text;

static herr_t bt_collect_error(unsigned n, const H5E_error2_t *error, void *data) {
    (void)n;
    bt_error_text *text = (bt_error_text *)data;
    if (text->length + 1 >= text->capacity) return 0;
    int written = snprintf(text->buffer + text->length, text->capacity - text->length, "%s\n",
                           error->desc ? error->desc : "");
    if (written > 0) {
        size_t added = (size_t)written;
        text->length += added < text->capacity - text->length ? added : text->capacity - text->length - 1;
    }
    return 0;
}

/// Writes the current thread's error stack, one description a line from the outermost call
/// inwards, into `buffer`, and clears the stack. Returns the number of bytes written.
static inline size_t bt_take_error_stack(char *buffer, size_t capacity) {
    bt_error_text text = { buffer, capacity, 0 };
    if (capacity > 0) buffer[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, bt_collect_error, &text);
    H5Eclear2(H5E_DEFAULT);
    return text.length;
}
