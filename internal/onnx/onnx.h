// C interface of the OpenCV dnn wrapper (onnx.cc). Every function catches
// every C++ exception; on failure it returns NULL or non-zero and sets *err
// to a malloc'd message the caller frees.
#ifndef ONEFACE_ONNX_H
#define ONEFACE_ONNX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oneface_onnx_net oneface_onnx_net;

// oneface_onnx_load parses an ONNX model from memory (the bytes are copied
// by OpenCV), selects the OpenCV CPU backend and sets OpenCV to one thread.
oneface_onnx_net* oneface_onnx_load(const char* buf, size_t len, char** err);

// oneface_onnx_run sets one input blob (a copy of in, with ndims dimensions
// shape[0..ndims)) and runs forward(). On success *out is a malloc'd copy of
// the default output with *out_len elements, and out_shape[0..*out_ndims)
// its shape (out_shape has room for max_out_ndims entries).
int oneface_onnx_run(oneface_onnx_net* net, const float* in, const int* shape, int ndims,
                     float** out, size_t* out_len, int* out_shape, int max_out_ndims, int* out_ndims,
                     char** err);

// oneface_onnx_free releases a network. NULL is allowed.
void oneface_onnx_free(oneface_onnx_net* net);

// oneface_onnx_version returns OpenCV's version string (static storage).
const char* oneface_onnx_version(void);

#ifdef __cplusplus
}
#endif

#endif
