"""The one error of tcpfault vm: a message for the user, said before booting when possible."""


class VmError(Exception):
    pass
