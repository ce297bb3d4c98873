// What the trace's output tests share: a scratch directory, and running the readers
// (tcpdump, tshark, capinfos) on a written file.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "netns/error.h"

namespace tcpfault::read_back {

// A private directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/pcapng_test.XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) throw_errno("mkdtemp " + templ);
    path_ = templ;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int status = -1;
  std::string out;
};

// Runs a shell command; stdout is captured, stderr is dropped (tshark warns about root,
// tcpdump that interface names "might be incorrect").
inline CommandResult run(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline bool have_tool(const std::string& name) { return run("command -v " + name).status == 0; }

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

inline std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, sep)) out.push_back(field);
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}

inline std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// The field that holds packet comments (frame.comment in tshark 3.x and 4.x).
inline std::string tshark_comment_field() {
  const std::string fields = run("tshark -G fields").out;
  for (const char* name : {"frame.comment", "pkt_comment"})
    if (fields.find(std::string("\t") + name + "\t") != std::string::npos) return name;
  return "";
}

}  // namespace tcpfault::read_back
