"""Fixtures of the bindings' own tests. They do not load the tcpfault pytest plugin (the
plugin's tests run it under pytester): `net` here is one IPv4 scenario, named after the
test module, which is all that tests of the API itself need."""

import pytest

import tcpfault


@pytest.fixture
def net(request):
    name = request.module.__name__.removeprefix("test_").replace("_", "-")
    with tcpfault.Scenario(family=4, name=name) as scenario:
        yield scenario


@pytest.fixture
def connection(net):
    """(client end, server end) of one connection to port 8080."""
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    return client, listener.accept()
