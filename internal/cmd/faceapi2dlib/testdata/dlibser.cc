// dlibser: dlib's own serialize() for the primitive values the converter
// writes, as the reference for TestEncoderMatchesDlib. Reads lines
//   i <decimal int64> | f <hex float32 bits> | d <hex float64 bits> | b <0|1> | s <text>
// from stdin and writes, for each line, the hex of dlib's bytes.
// Build: g++ -O1 -o dlibser dlibser.cc   (header-only; Debian libdlib-dev)
#include <cstdint>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>

#include <dlib/serialize.h>

int main() {
    std::string kind, arg;
    while (std::cin >> kind >> arg) {
        std::ostringstream out;
        if (kind == "i") {
            long long v = std::stoll(arg);
            dlib::serialize(v, out);
        } else if (kind == "f") {
            uint32_t bits = std::stoul(arg, nullptr, 16);
            float v;
            std::memcpy(&v, &bits, 4);
            dlib::serialize(v, out);
        } else if (kind == "d") {
            uint64_t bits = std::stoull(arg, nullptr, 16);
            double v;
            std::memcpy(&v, &bits, 8);
            dlib::serialize(v, out);
        } else if (kind == "b") {
            dlib::serialize(arg == "1", out);
        } else if (kind == "s") {
            dlib::serialize(arg, out);
        } else {
            return 2;
        }
        for (unsigned char c : out.str()) {
            static const char *hex = "0123456789abcdef";
            std::cout << hex[c >> 4] << hex[c & 15];
        }
        std::cout << '\n';
    }
    return 0;
}
