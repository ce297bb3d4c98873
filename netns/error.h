// Errors that tell the user what went wrong and how to fix it.
#pragma once

#include <stdexcept>
#include <string>

namespace tcpfault {

// Any failure of the harness itself (not of the stack under test).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failed system call: "<what>: <strerror(err)>" plus an optional hint on how to fix it.
class SystemError : public Error {
 public:
  SystemError(const std::string& what, int err, const std::string& hint = "");
  int code() const { return err_; }

 private:
  int err_;
};

// The errno's symbolic name ("ECONNRESET"), or its number for one not listed.
std::string errno_name(int err);

// Throws SystemError with the current errno.
[[noreturn]] void throw_errno(const std::string& what, const std::string& hint = "");

}  // namespace tcpfault
