// A failed expectation in a C++ case is reported at the case's own file and line: the
// case that fails on purpose (failing_case/failing_case.cpp, a program of its own) is
// run, and what GoogleTest says of it read, on the terminal and in its XML report.
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cases/cpp/case_support.h"
#include "netns/error.h"

namespace tcpfault::cases {
namespace {

namespace fs = std::filesystem;

const fs::path kFailingCaseSource = fs::path(__FILE__).parent_path() / "failing_case" / "failing_case.cpp";

// The line of the failing case's source that carries `marker`; 0 if none does.
int line_of(const fs::path& source, const std::string& marker) {
  std::ifstream in(source);
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.find(marker) != std::string::npos) return number;
  }
  return 0;
}

struct ChildRun {
  int status = -1;
  std::string output;  // stdout and stderr
};

ChildRun run_child(const std::string& command) {
  ChildRun r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw_errno("popen " + command);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ScratchDir {
 public:
  ScratchDir() {
    std::string templ = (fs::temp_directory_path() / "failure_report.XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) throw_errno("mkdtemp " + templ);
    path_ = templ;
  }
  ~ScratchDir() { fs::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(FailureReport, NamesTheCaseFileAndLine) {
  const int line = line_of(kFailingCaseSource, "// the failure is reported here");
  ASSERT_GT(line, 0) << "no marked line in " << kFailingCaseSource;
  const std::string at = kFailingCaseSource.filename().string() + ":" + std::to_string(line);

  ScratchDir scratch;
  const fs::path xml = scratch.path() / "report.xml";
  // Bounded: the two scenarios take about a second; a hang ends at 120 s.
  const ChildRun r = run_child("TCPFAULT_ARTIFACTS='" + scratch.path().string() + "' timeout 120 '" TCPFAULT_FAILING_CASE "'" +
                    " --gtest_output=xml:'" + xml.string() + "'");

  EXPECT_EQ(r.status, 1) << r.output;  // GoogleTest's exit status for a failed test
  EXPECT_NE(r.output.find(at + ": Failure"), std::string::npos) << "no failure at " << at << ":\n" << r.output;
  EXPECT_EQ(r.output.find("unknown file"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("expectation failed: 1 x"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[  PASSED  ] 1 test."), std::string::npos) << "failure_of's control: " << r.output;
  EXPECT_NE(r.output.find("1 FAILED TEST"), std::string::npos) << r.output;

  // CI readers of the XML report find the same place.
  const std::string report = read_text(xml);
  EXPECT_NE(report.find("message=\"" + kFailingCaseSource.string() + ":" + std::to_string(line)),
            std::string::npos)
      << report;
}

}  // namespace
}  // namespace tcpfault::cases
