"""The pytest plugin's options, each settable on the command line and in the ini file.

``--tcpfault-family 4`` on the command line and ``tcpfault_family = 4`` in pytest.ini
(or the ``[tool.pytest.ini_options]`` of pyproject.toml, or tox.ini) are the same
setting; the command line wins. The plugin's modules declare their options with
:func:`add` and call :func:`resolve` at the start of their ``pytest_configure``: from
then on ``config.getoption(dest)`` gives the value in force, whichever module asks.
"""

import json
import os

import pytest

_DECLARED = {}  # dest -> (flag, default, choices, is_path)


def add(parser, group, flag, *, default, help, choices=None, metavar=None):
    """--flag in `group` and its ini twin (the flag's name with '_': --tcpfault-family ->
    tcpfault_family). The command-line option defaults to None so that an ini value can
    stand in for it; `default` applies when neither is given. A DIR or FILE option's
    relative path in the ini file is relative to that file, as pytest's own paths are."""
    dest = flag.lstrip("-").replace("-", "_")
    group.addoption(flag, dest=dest, default=None, choices=choices, metavar=metavar,
                    help=f"{help} (ini option: {dest})")
    parser.addini(dest, help=help, default="")
    _DECLARED[dest] = (flag, default, choices, metavar in ("DIR", "FILE"))


def resolve(config):
    """Fills every declared option the command line left unset from the ini file, then
    from its default; an ini value outside the option's choices is a usage error."""
    for dest, (flag, default, choices, is_path) in _DECLARED.items():
        if getattr(config.option, dest, None) is not None:
            continue
        value = config.getini(dest).strip()
        if not value:
            value = default
        elif choices is not None and value not in choices:
            where = config.inipath or "the ini file"
            raise pytest.UsageError(f"{dest} = {value} in {where}: use one of {', '.join(choices)} "
                                    f"(or give {flag} on the command line)")
        elif is_path and config.inipath is not None:
            value = os.path.join(os.path.dirname(config.inipath), os.path.expanduser(value))
        setattr(config.option, dest, value)


def read_json(flag, path):
    """The JSON file an option names; one UsageError naming the option when it cannot be read."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise pytest.UsageError(f"{flag} {path}: cannot read it: {e}")
