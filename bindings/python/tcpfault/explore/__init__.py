"""tcpfault explore: every single fault on every segment of a conversation, across targets.

    conversation  the segments a clean run's stacks sent, each named "server FIN #1"
    faults        the fault registry: what each fault does to one segment, and where it applies
    variants      the enumeration (deterministic; --faults, --pairs N --seed S)
    plugin        a pytest plugin: runs an unchanged test once per variant, one JSON record each
    limits        what a case scales down under explore (a bulk transfer's size)
    replay        what the plugin and the generated reproducers share: running a test body,
                  observing the scenario afterwards
    expectations  what a reproducer expects of its run, and the comparison with a run
    races         what the machine decided in a run: close calls, two timers that fired together
    oracle        the rules a run no one wrote assertions for is judged by, with their RFC basis
    differential  outcomes normalised and compared across targets, differences grouped
    reproducer    a pytest file per violation and difference group
    report        the JSON and Markdown reports
    known         the findings file: what was investigated, classed, with its evidence
    vm_target     a kernel booted in a VM as a target (--target vm:6.1)
    command       the `tcpfault explore` subcommand

docs/explore.md is the guide.
"""
