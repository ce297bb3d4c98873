"""tcpfault conformance: the suite against one or more targets, with its reports.

command: options, checks before anything runs, the run and its exit status;
run: one target's pytest run and its rows (one per test); summary: the text table, the
reasons and failures, Markdown and JSON."""
