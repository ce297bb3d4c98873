"""What a command checks before anything runs: root, that every output path can be
written, and that a -k expression parses. Each problem is
said once, with what to do about it (tcpfault.exit_codes)."""

import os

from .exit_codes import cannot_run, usage


def need_root(command, why):
    if os.geteuid() != 0:
        raise cannot_run(command, f"needs root ({why}): run it with sudo")


def output_file(command, option, path):
    """The file an option names can be written: its folder exists and is writable, and it
    is not a folder itself. Nothing is created."""
    if path is None:
        return
    if os.path.isdir(path):
        raise usage(command, f"{option} {path}: is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise usage(command, f"{option} {path}: no folder {folder} (create it first)")
    if os.path.exists(path) and not os.access(path, os.W_OK) or not os.access(folder, os.W_OK):
        raise usage(command, f"{option} {path}: cannot be written (permissions)")


def output_folder(command, option, path):
    """The folder an option names exists and is writable, or can be made."""
    if path is None:
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise usage(command, f"{option} {path}: is a file; give a folder")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise usage(command, f"{option} {path}: cannot be written under {existing} (permissions)")


def keyword_expression(command, expression):
    """A -k expression pytest accepts (it would otherwise stop with an internal error)."""
    if expression is None:
        return
    try:
        from _pytest.mark.expression import Expression, ParseError
    except ImportError:  # another pytest: it says so itself
        return
    try:
        Expression.compile(expression)
    except ParseError as e:
        raise usage(command, f"-k {expression!r}: {e} (pytest -k syntax: names, and, or, not, parentheses)")
