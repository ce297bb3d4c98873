"""The wire-inferred states against an agent's own (its state events), on a subset of the
cases that covers what the comparison over the whole suite found on gVisor and lwIP: a
child reset in SYN_RECV, a SYN-cookie child, a keepalive timer giving up, TIME_WAIT taken
over by a new SYN, and the stacks' own departures from RFC 9293's machine (a FIN
retransmitted from LAST_ACK, FIN_WAIT1 -> TIME_WAIT and SYN_SENT -> ESTABLISHED in one
step, an in-window RST that resets). TIME_WAIT running out (TW1) takes a minute and is left
to the unit tests and the whole-suite run. Runs them on TARGET with --tcpfault-wire-states and fails when

- a case fails (pytest's exit status: a known deviation of the target, matching its
  cases/targets/TARGET.toml entry, is not a failure there), or a comparison errs, or
- a disagreement no cause explains is in a test that is not a known deviation of TARGET.

An unexplained disagreement is tolerated only in a listed test (by function name and
family, as the deviation list matches tests): that test does something else than RFC
9293 as the wire reads it, and the list says what and why; the report prints each such
step with the list's reason. Anywhere else it is a regression of the inference, of the
comparison's rules, or of the agent's events.

    wire_states_vs_agent.py TARGET CASES_DIR RECORDS_FILE

Exits with 77 (ctest's SKIP_RETURN_CODE for it) when TARGET's agent is not built: the
gVisor agent is built only where golang-go and golang-gvisor-gvisor-dev are installed.
"""

import subprocess
import sys

import tcpfault
from tcpfault import target_deviations, targets, wire_check

SUBSET = " or ".join([
    "test_hs1_three_way_handshake",                          # the open and close every case has
    "test_hs7_rst_in_syn_recv",                              # a child reset in SYN_RECV
    "test_hs6_simultaneous_open",                            # SYN_SENT -> ESTABLISHED in one step (lwIP)
    "test_ld2_syn_to_a_full_accept_queue_is_dropped",        # a SYN-cookie child (gVisor)
    "test_cl2_final_ack_lost",                               # a FIN retransmitted from LAST_ACK
    "test_cl4_fin_wait1_to_time_wait",                       # FIN_WAIT1 -> TIME_WAIT in one step
    "test_tw7_server_time_wait_accepts_new_syn",             # TIME_WAIT taken over by a SYN
    "test_sec1_rst_injection",                               # an in-window RST that resets (gVisor)
    "test_tm3_keepalive",                                    # keepalive giving up (gVisor)
    "test_dt5_integrity_under_random_faults",                # drops, delays, duplicates, reordering
])
# Each selected function on both families (TM3 and TW7 have a variant; on gVisor and lwIP
# alike, a case that cannot apply to the target is skipped before it has a record).
MIN_RECORDS = 22
NOT_BUILT = 77


def known_deviation(deviations):
    def reason(record):
        name = record["test"].split("::")[-1].split("[")[0]
        deviation = target_deviations.find(deviations, name, record.get("family"))
        return deviation.reason if deviation else None
    return reason


def main(target, cases, records):
    if target not in targets.AGENTS:
        print(f"TARGET is one of the agents tcpfault knows by name ({', '.join(targets.AGENTS)}), not {target!r}")
        return 2
    try:
        targets.agent(target)
    except tcpfault.Error as error:
        print(f"skipped: {error}")
        return NOT_BUILT
    deviations = target_deviations.for_target(cases, target)
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "4", cases,
                          "-k", SUBSET, f"--tcpfault-target={target}", f"--tcpfault-wire-states={records}"])
    if run.returncode != 0:
        print(f"the cases themselves failed on {target} (pytest exit status {run.returncode})")
        return 1
    found = wire_check.read_records(records)
    if len(found) < MIN_RECORDS:
        print(f"expected a record per test ({MIN_RECORDS} or more), found {len(found)}")
        return 1
    wrong = sorted({r.get("target") for r in found} - {target})
    if wrong:
        print(f"records of another target than {target}: {', '.join(map(str, wrong))}")
        return 1
    return wire_check.report(records, tolerated=known_deviation(deviations))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
