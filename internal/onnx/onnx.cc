//go:build cgo

// OpenCV dnn wrapper behind onnx.h. Nothing here keeps a pointer to Go
// memory after a call returns: inputs are copied into OpenCV-owned Mats and
// outputs into malloc'd buffers.

#include "onnx.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

struct oneface_onnx_net {
	cv::dnn::Net net;
};

static void set_err(char** err, const char* msg) {
	if (err == NULL) return;
	size_t n = std::strlen(msg);
	char* p = static_cast<char*>(std::malloc(n + 1));
	if (p == NULL) return;
	std::memcpy(p, msg, n + 1);
	*err = p;
}

extern "C" oneface_onnx_net* oneface_onnx_load(const char* buf, size_t len, char** err) {
	oneface_onnx_net* n = NULL;
	try {
		cv::setNumThreads(1);
		// Errors come back to Go with the exception's message; OpenCV's own
		// stderr logging would only duplicate them.
		cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
		n = new oneface_onnx_net();
		n->net = cv::dnn::readNetFromONNX(buf, len);
		if (n->net.empty()) {
			delete n;
			set_err(err, "OpenCV returned an empty network");
			return NULL;
		}
		n->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
		n->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
		return n;
	} catch (const cv::Exception& e) {
		set_err(err, e.what());
	} catch (const std::exception& e) {
		set_err(err, e.what());
	} catch (...) {
		set_err(err, "unknown C++ exception");
	}
	delete n;
	return NULL;
}

extern "C" int oneface_onnx_run(oneface_onnx_net* n, const float* in, const int* shape, int ndims,
                                float** out, size_t* out_len, int* out_shape, int max_out_ndims,
                                int* out_ndims, char** err) {
	*out = NULL;
	*out_len = 0;
	*out_ndims = 0;
	try {
		// clone(): the Mat header over the caller's buffer must not outlive
		// this call.
		cv::Mat blob = cv::Mat(ndims, shape, CV_32F, const_cast<float*>(in)).clone();
		n->net.setInput(blob);
		cv::Mat res = n->net.forward();
		if (res.depth() != CV_32F) {
			set_err(err, "output is not float32");
			return 1;
		}
		if (res.dims > max_out_ndims) {
			set_err(err, "output has too many dimensions");
			return 1;
		}
		if (!res.isContinuous()) res = res.clone();
		size_t total = res.total() * res.channels();
		float* buf = static_cast<float*>(std::malloc(total * sizeof(float) + 1));
		if (buf == NULL) {
			set_err(err, "out of memory");
			return 1;
		}
		std::memcpy(buf, res.ptr<float>(), total * sizeof(float));
		for (int i = 0; i < res.dims; i++) out_shape[i] = res.size[i];
		*out_ndims = res.dims;
		*out = buf;
		*out_len = total;
		return 0;
	} catch (const cv::Exception& e) {
		set_err(err, e.what());
	} catch (const std::exception& e) {
		set_err(err, e.what());
	} catch (...) {
		set_err(err, "unknown C++ exception");
	}
	return 1;
}

extern "C" void oneface_onnx_free(oneface_onnx_net* n) {
	try {
		delete n;
	} catch (...) {
	}
}

extern "C" const char* oneface_onnx_version(void) { return CV_VERSION; }
