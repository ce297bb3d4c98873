"""The tcpfault command: list the conformance cases, run them, write the reports.

    tcpfault list [--markdown]
    tcpfault conformance ...       (tcpfault.conformance: the suite, its progress and reports)
    tcpfault explore ...           (tcpfault.explore: every fault on every segment of a conversation)
    tcpfault merge ...             (tcpfault.merge: the reports of --shard runs joined)
    tcpfault wire-states-report FILE
    tcpfault sysctl-check ...      (tcpfault.sysctl.check)
    tcpfault vm --kernel ... -- COMMAND [ARGS...]
                                   (tcpfault.vm: the command in a QEMU guest booting another kernel)
    tcpfault kernel-matrix ...     (tcpfault.kernel_matrix)

The cases are pytest tests (the directory in $TCPFAULT_CASES, set by the launcher).
Every command exits with the statuses of tcpfault.exit_codes.
"""

import argparse
import os
import sys

from . import case_runs, catalogue, exit_codes, kernel_matrix, merge, version
from .case_runs import case_sort_key
from .conformance import command as conformance_command
from .explore import command as explore_command
from .exit_codes import Stop
from .sysctl import check as sysctl_check
from .vm import command as vm_command

COMMANDS = "{list,conformance,explore,merge,sysctl-check,wire-states-report,vm,kernel-matrix}"


# ---- tcpfault list ----

def command_list(options):
    collector = case_runs.collect_in_scratch()
    if options.markdown:
        sys.stdout.write(catalogue.markdown(collector))
        return exit_codes.OK
    ids = sorted(collector.cases, key=case_sort_key)
    width = max([len(i) for i in ids] + [4])
    title_width = max([len(collector.cases[i][0]) for i in ids] + [5])
    print(f"{'CASE':<{width}}  {'TITLE':<{title_width}}  REFERENCE")
    for case_id in ids:
        title, ref = collector.cases[case_id]
        print(f"{case_id:<{width}}  {title:<{title_width}}  {ref}")
    return exit_codes.OK


def add_list(commands):
    listing = commands.add_parser(
        "list", help="every case with its id, title and RFC reference", usage="tcpfault list [--markdown]",
        description="List every conformance case: id, one-line title, RFC or kernel reference; with --markdown, "
                    "the whole catalogue (docs/cases.md is made this way).",
        **exit_codes.PARSER)
    listing.add_argument("--markdown", action="store_true",
                         help="the catalogue as Markdown: every case with its tests and what each checks")
    listing.set_defaults(run=command_list)


# ---- tcpfault wire-states-report ----

def command_wire_states_report(options):
    from tcpfault import wire_check

    if not os.path.isfile(options.file):
        raise exit_codes.usage("wire-states-report", f"no such file {options.file!r} (write one with "
                                                     "pytest --tcpfault-wire-states FILE)")
    return wire_check.report(options.file)


def add_wire_states_report(commands):
    report = commands.add_parser(
        "wire-states-report", help="sum up a run's wire-inferred states against the kernel's",
        usage="tcpfault wire-states-report FILE",
        description="Read the records pytest --tcpfault-wire-states FILE wrote and print, per case, the steps "
                    "where the wire-inferred states agree with the kernel's and the disagreements by cause, "
                    "then every unexplained one in full. Exit status 0 only when every disagreement is explained.",
        **exit_codes.PARSER)
    report.add_argument("file", metavar="FILE", help="the records (one JSON line per test)")
    report.set_defaults(run=command_wire_states_report)


def parser():
    top = argparse.ArgumentParser(
        prog="tcpfault", usage=f"tcpfault [-h] [--version] {COMMANDS} ...",
        description="TCP fault injection and conformance: two real TCP stacks across a middlebox that "
                    "drops, delays, reorders, duplicates, rewrites or injects specific segments.",
        **exit_codes.PARSER)
    top.add_argument("--version", action="version", version=version.text())
    commands = top.add_subparsers(dest="command", metavar=COMMANDS)
    commands.required = True
    add_list(commands)
    conformance_command.add_parser(commands)
    explore_command.add_parser(commands)
    merge.add_parser(commands)
    sysctl_check.add_parser(commands)
    add_wire_states_report(commands)
    vm_command.add_parser(commands)
    kernel_matrix.add_parser(commands)
    return top


def main(argv=None):
    options = parser().parse_args(argv)
    try:
        return options.run(options)
    except Stop as stop:
        sys.stderr.write(stop.message + "\n")
        return stop.status
    except KeyboardInterrupt:
        sys.stderr.write(f"tcpfault {options.command}: interrupted\n")
        return exit_codes.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
