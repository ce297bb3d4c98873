"""The wire-inferred states against the kernel's, on a representative subset of the cases:
one or two cases for every thing the comparison over the whole suite found (a request
socket, a connect() failing before its SYN, a timer or tcp_fin_timeout giving up, no
TIME_WAIT bucket, a tuple reused while the old end holds it, ISNs rewritten in the
middlebox, an ACK of data never sent, segments crossing under random faults, a tracepoint
event perf missed). Runs them with --tcpfault-wire-states and fails on any disagreement
no cause explains, so that a regression in the inference or the observer shows.

    wire_states_vs_kernel.py CASES_DIR RECORDS_FILE
"""

import subprocess
import sys

from tcpfault import wire_check

SUBSET = " or ".join([
    "test_hs7_rst_in_syn_recv",                              # request socket, a rewritten segment
    "test_ld2_abort_on_overflow",                            # request sockets, an RST crossing a FIN
    "test_cl2_without_time_wait",                            # no TIME_WAIT bucket, the host's answer
    "test_cl10_orphan_retries",                              # a timer giving up
    "test_cl6_other_fin_wait2_timeout",                      # tcp_fin_timeout
    "test_cl7_half_close",
    "test_tw3_port_exhaustion",                              # connect() failing before its SYN
    "test_tw6_reuse_after_lost_final_ack",                   # a SYN meeting LAST_ACK
    "test_tw5_current_timestamp",                            # an ACK of data never sent
    "test_sec2_predictable_isns",                            # ISNs rewritten in the middlebox
    "test_dt5_integrity_under_random_faults",                # drops, delays, duplicates, reordering
    "test_tm3_keepalive",                                    # a step the tracepoint may miss
])


def main(cases, records):
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "4", cases,
                          "-k", SUBSET, f"--tcpfault-wire-states={records}"])
    if run.returncode != 0:
        print(f"the cases themselves failed (pytest exit status {run.returncode})")
        return 1
    found = wire_check.read_records(records)
    if len(found) < 24:
        print(f"expected a record per test (24 or more), found {len(found)}")
        return 1
    return wire_check.report(records)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
