// What stands in for a sysctl the kernel lacks. The host's kernel has every key the
// catalog lists, so the stand-in is called directly, as set_sysctl calls it on an older one.
#include "harness/scenario/absent_sysctl.h"

#include <gtest/gtest.h>

#include "harness/endpoints/target_errors.h"
#include "harness/testing/scenario_test.h"

namespace tcpfault {
namespace {

using namespace std::chrono_literals;

class AbsentSysctlTest : public ConnectionTest {};

TEST_P(AbsentSysctlTest, TheBuiltInValueNeedsNothing) {
  auto note = stand_in_for_absent_sysctl(s->topology(), Host::Client, "net.ipv4.tcp_tw_reuse_delay", " 1000 ");
  ASSERT_TRUE(note);
  EXPECT_NE(note->find("sysctl client net.ipv4.tcp_tw_reuse_delay = 1000: this kernel predates the key "
                       "(Linux 6.14) and behaves as with 1000"),
            std::string::npos)
      << *note;
  EXPECT_NE(note->find("nothing to set"), std::string::npos) << *note;
}

TEST_P(AbsentSysctlTest, AnotherValueIsNotApplicableAndSaysWhy) {
  try {
    stand_in_for_absent_sysctl(s->topology(), Host::Client, "net/ipv4/tcp_syn_linear_timeouts", "4");
    FAIL() << "no NotApplicable";
  } catch (const NotApplicable& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("predates the key (Linux 6.5)"), std::string::npos) << what;
    EXPECT_NE(what.find("every SYN timeout doubles"), std::string::npos) << what;
    EXPECT_NE(what.find("(as with 0), not 4"), std::string::npos) << what;
  }
}

TEST_P(AbsentSysctlTest, AKeyTheCatalogDoesNotKnowIsLeftToTheKernelsError) {
  EXPECT_FALSE(stand_in_for_absent_sysctl(s->topology(), Host::Client, "net.ipv4.tcp_no_such_key", "1"));
  EXPECT_FALSE(stand_in_for_absent_sysctl(s->topology(), Host::Client, "not a key", "1"));
}

// The older knob of tcp_rto_min_us: the route's locked rto_min metric. The connection
// made after it has an RTO of at least that floor, where the default gives about 204 ms.
TEST_P(AbsentSysctlTest, TheMinimumRtoGoesOnTheRoutes) {
  auto note = stand_in_for_absent_sysctl(s->topology(), Host::Client, "net.ipv4.tcp_rto_min_us", "800000");
  ASSERT_TRUE(note);
  EXPECT_NE(note->find("rto_min 800 ms on the default routes"), std::string::npos) << *note;
  open();
  EXPECT_GE(client->tcp_info().rto_us, 800000u);
  EXPECT_LT(server->tcp_info().rto_us, 800000u);  // the server's routes are untouched
}

TEST_P(AbsentSysctlTest, AMinimumRtoTheRouteCannotHoldIsNotApplicable) {
  EXPECT_THROW(stand_in_for_absent_sysctl(s->topology(), Host::Client, "net.ipv4.tcp_rto_min_us", "800500"),
               NotApplicable);
}

INSTANTIATE_TEST_SUITE_P(Families, AbsentSysctlTest, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return to_string(info.param); });

}  // namespace
}  // namespace tcpfault
