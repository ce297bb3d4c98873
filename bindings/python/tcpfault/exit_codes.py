"""One exit status scheme for every tcpfault command, and the way a command stops early.

A command raises Stop with one of these statuses and one line that says what is wrong and
how to fix it; tcpfault.cli prints it once and exits with the status."""

import argparse

OK = 0           # every selected case passed, is a known deviation or cannot apply; nothing changed
FAILED = 1       # a case failed, or a behaviour changed (sysctl-check)
USAGE = 2        # bad usage or input: nothing ran
CANNOT_RUN = 3   # not root, a missing program, pytest or the VM could not start
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), after a summary of what had finished

HELP = """exit status (the same for every command):
  0    every selected case passed, is a known deviation or cannot apply to the target;
       sysctl-check: no behavioural change
  1    a case failed; sysctl-check: a behaviour changed (as --fail-on selects)
  2    bad usage or input (an option, a file, a -k expression, a case id): nothing ran
  3    could not run: not root, a missing program, pytest or the VM could not start
  130  interrupted (Ctrl-C): what had finished is summed up first"""


class _Formatter(argparse.HelpFormatter):
    """argparse's own, but the exit status table keeps its lines."""

    def _fill_text(self, text, width, indent):
        if text == HELP:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


# What every command's parser is given: the table below its options.
PARSER = {"epilog": HELP, "formatter_class": _Formatter}


class Stop(Exception):
    """Ends a command with `status` after printing `message` (one line, on stderr)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def usage(command, message):
    return Stop(USAGE, f"tcpfault {command}: {message}")


def cannot_run(command, message):
    return Stop(CANNOT_RUN, f"tcpfault {command}: {message}")
