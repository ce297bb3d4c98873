"""`tcpfault sysctl-check`: what a proposed sysctl change does to TCP, shown by the cases.

input    reads sysctl.conf files and checks each line against the running kernel
cases    which cases can show which key, and why
overlay  the pytest plugin that applies a setting to every scenario of a run
diff     compares the runs at the baseline's value with those at the proposed one
report   the report in words, and a risk note per key
check    the command: reads, runs, compares, reports, picks the exit status
"""
