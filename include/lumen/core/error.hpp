// lumen::Error — the one exception type of the library.
//
// Every failure a user can cause (a bad argument, an incompatible layer, a corrupt file) is reported
// by throwing Error with a message that names the thing at fault: the layer and its name, the argument,
// the file, and the shapes involved. Example:
//   Dense "dense_1": expects rank-2 input (batch, features), got (None, 22, 22, 64); add Flatten before it
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace lumen {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <class... Parts>
[[nodiscard]] inline std::string concat(Parts&&... parts) {
    std::ostringstream out;
    (out << ... << std::forward<Parts>(parts));
    return out.str();
}
}  // namespace detail

// Throws Error with the parts streamed together: fail("Conv2D \"", name, "\": filters must be > 0, got ", f).
template <class... Parts>
[[noreturn]] inline void fail(Parts&&... parts) {
    throw Error(detail::concat(std::forward<Parts>(parts)...));
}

// Checks a condition that depends on user input; throws Error with the message otherwise.
template <class... Parts>
inline void require(bool condition, Parts&&... parts) {
    if (!condition) fail(std::forward<Parts>(parts)...);
}

}  // namespace lumen
