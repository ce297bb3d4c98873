"""A scenario file as a user of the installed package writes it: no conftest.py and no
-p option, so the `net` fixture can only come from the plugin's pytest11 entry point."""

import os

import tcpfault
from tcpfault import CLOSE_WAIT, ESTABLISHED


def test_the_package_under_test_is_the_one_imported():
    # PYTHONPATH names only the unpacked package's dist-packages.
    assert os.path.realpath(tcpfault.__file__).startswith(os.path.realpath(os.environ["TCPFAULT_PACKAGE_ROOT"]))


def test_close_reaches_close_wait(net, tcpfault_family):
    assert tcpfault_family == 4  # tcpfault_family = 4 in the pytest.ini beside this file
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    conn = listener.accept()
    net.expect(conn).reaches(ESTABLISHED)
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)
