# The conformance suite runs on the tcpfault pytest plugin: `net`, families, sysctls.
pytest_plugins = ["tcpfault.pytest_plugin"]
