"""What the middlebox did to a segment, read from the fate the engine wrote in the timeline
(harness/intercept/fault_engine.cpp words it: "dropped by rule #1", "held by rule #2 (delay
200 ms), let go after 201 ms (...)", "injected: crafted by rule #3" ...), as one of a few
kinds the ladder colours and the legend names."""

# kind -> the legend's label; the order is the legend's.
KINDS = {
    "passed": "passed",
    "dropped": "dropped",
    "held": "held / delayed",
    "duplicated": "duplicated",
    "crafted": "crafted / injected",
    "rewritten": "rewritten",
    "other": "other",
}


def kind_of(fate):
    """The kind of a fate string ("" is an unclassified segment: passed)."""
    fate = fate or "passed"
    if fate.startswith("dropped"):          # also "dropped and answered by", a flood's replies
        return "dropped"
    if fate.startswith(("held", "delayed")):
        return "held"
    if fate.startswith("injected: copy made by") or fate.startswith("passed, then duplicated"):
        return "duplicated"
    if fate.startswith(("injected", "flood #")):
        return "crafted"
    if fate.startswith(("rewritten", "ISN rewritten", "passed, shifted")):
        return "rewritten"
    if fate.startswith("passed"):           # also "passed, then answered by" (the answer is its own segment)
        return "passed"
    return "other"

