// OpenBLAS (Debian's libopenblas-dev, pthreads build): CBLAS and the thread-count controls.
#include <cblas.h>
