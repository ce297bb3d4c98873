"""tcpfault explore's known findings, the clean runs' noise, and the bulk-transfer cap:
the findings file's checks and matching, a difference left out because the target's
own clean runs differ there, and casekit.bulk_bytes under and outside explore."""

import pytest

from tcpfault import casekit
from tcpfault.explore import differential, known, limits

RST_ENTRY = '''
[[finding]]
id = "lwip-time-wait-rst-to-syn-ack"
class = "stack-bug"
target = "lwip"
kind = "violation"
rule = "unsolicited-rst"
cases = ["CL1"]
variants = ["syn@client.FINAL_ACK.*"]
match = "TIME_WAIT"
why = "RFC 9293 3.10.7.4 asks for an ACK"
evidence = "capture"
'''

TIMING_ENTRY = '''
[[finding]]
id = "lwip-first-rto-3s"
class = "rfc-permitted"
target = "lwip"
kind = "difference"
fields = ["timing"]
match = "2-10 s"
why = "lwIP's first RTO is 3 s"
evidence = "capture"
'''


def load_text(tmp_path, text):
    path = tmp_path / "findings.toml"
    path.write_text(text)
    return known.load(str(path))


def violation(target="lwip", variant="syn@client.FINAL_ACK.1", rule="unsolicited-rst",
              what="client RST in TIME_WAIT 3 ms after a RETRANSMISSION reached it"):
    return {"target": target, "variant": variant, "rule": rule, "what": what}


def test_a_violation_is_known_by_target_rule_case_variant_and_text(tmp_path):
    findings = load_text(tmp_path, RST_ENTRY)
    hits = [violation(), violation(target="kernel"), violation(rule="states"), violation(variant="drop@client.FIN.1"),
            violation(what="client RST in ESTABLISHED")]
    known.classify(findings, "CL1", hits, [], ["kernel", "lwip"])
    assert [bool(v["known"]) for v in hits] == [True, False, False, False, False]
    assert hits[0]["known"][0]["class"] == "stack-bug"
    other_case = [violation()]
    known.classify(findings, "CL2", other_case, [], ["kernel", "lwip"])
    assert other_case[0]["known"] == []


def test_a_difference_group_is_known_only_when_every_field_is_explained(tmp_path):
    findings = load_text(tmp_path, TIMING_ENTRY)
    values = {"timing": {"kernel": "0.5-2 s", "lwip": "2-10 s"},
              "ends": {"kernel": ["client CLOSED"], "lwip": ["client FIN_WAIT2"]}}
    only_timing = {"fields": ["timing"], "representative": "drop@client.SYN.1",
                   "representative_fields": {"timing": values["timing"]}}
    both = {"fields": ["timing", "ends"], "representative": "drop@client.SYN.1", "representative_fields": values}
    known.classify(findings, "CL2", [], [only_timing, both], ["kernel", "lwip"])
    assert [k["id"] for k in only_timing["known"]] == ["lwip-first-rto-3s"]
    assert both["known"] == [] and [k["id"] for k in both["partly_known"]] == ["lwip-first-rto-3s"]
    # A group's fields gather all its variants'; it is judged by what its representative shows.
    wider = {"fields": ["verdict", "timing"], "representative": "drop@client.SYN.1",
             "representative_fields": {"timing": values["timing"]}}
    known.classify(findings, "CL2", [], [wider], ["kernel", "lwip"])
    assert [k["id"] for k in wider["known"]] == ["lwip-first-rto-3s"]
    # A field that took another value when the representative ran again is a race: it
    # needs no finding, the others still do.
    both["raced_fields"] = ["ends"]
    known.classify(findings, "CL2", [], [both], ["kernel", "lwip"])
    assert [k["id"] for k in both["known"]] == ["lwip-first-rto-3s"]
    both["raced_fields"] = []
    known.classify(findings, "CL2", [], [both], ["kernel", "lwip"])
    assert both["known"] == []


@pytest.mark.parametrize("text, says", [
    ("[[finding]]\nid = 'x'\n", "needs class, target, kind, why, evidence"),
    (RST_ENTRY.replace('"stack-bug"', '"harness"'), "a harness problem is fixed, not listed"),
    (RST_ENTRY.replace('kind = "violation"', 'kind = "bug"'), "kind is violation or difference"),
    (RST_ENTRY.replace('rule = "unsolicited-rst"\n', ""), "names its oracle rule"),
    (TIMING_ENTRY.replace('fields = ["timing"]\n', ""), "names the fields it explains"),
    (RST_ENTRY.replace('match = "TIME_WAIT"', 'match = "("'), "not a regular expression"),
    (RST_ENTRY + RST_ENTRY, "used twice"),
    (RST_ENTRY.replace("evidence", "proof"), "unknown key(s) proof"),
    ("[[findings]]\n", "entries are [[finding]]"),
    ("[[finding]\n", "not valid TOML"),
])
def test_a_malformed_findings_file_gets_one_clear_error(tmp_path, text, says):
    with pytest.raises(known.FindingsError, match=None) as error:
        load_text(tmp_path, text)
    assert says in str(error.value), str(error.value)


def test_what_varies_between_clean_runs_is_noise_and_not_compared():
    clean_a = {"verdict": "passed", "segments": ["client FIN", "server RST"], "timing": "under 0.5 s"}
    clean_b = {"verdict": "passed", "segments": ["client FIN"], "timing": "0.5-2 s"}
    noise = differential.noise([clean_a, clean_b])
    assert noise == {"segments": {"server RST"}, "timing": True}
    kernel_clean = {"verdict": "passed", "segments": ["client FIN"], "timing": "under 0.5 s"}
    outcomes = {"kernel": {"clean": kernel_clean,
                           "drop@client.FIN.1": {"verdict": "passed", "segments": ["client FIN"], "timing": "2-10 s"}},
                "lwip": {"clean": clean_b,
                         "drop@client.FIN.1": {"verdict": "failed", "segments": ["client FIN", "server RST"],
                                               "timing": "under 0.5 s"}}}
    found = differential.compare(outcomes, ["kernel", "lwip"], {"lwip": noise})
    assert found == {"drop@client.FIN.1": {"verdict": {"kernel": "passed", "lwip": "failed"}}}
    # Without the noise, the RST lwIP's clean runs show only now and then is a difference
    # (timing is not compared: the case failed on lwIP, its time is the expectation's wait).
    assert set(differential.compare(outcomes, ["kernel", "lwip"])["drop@client.FIN.1"]) == {"verdict", "segments"}
    outcomes["lwip"]["drop@client.FIN.1"]["verdict"] = "passed"
    assert set(differential.compare(outcomes, ["kernel", "lwip"])["drop@client.FIN.1"]) == {"segments", "timing"}


def test_a_bulk_transfer_is_capped_only_under_explore():
    try:
        limits.set_transfer_bytes(None)
        assert casekit.bulk_bytes(10_000_000) == 10_000_000
        limits.set_transfer_bytes(1_000_000)
        assert casekit.bulk_bytes(10_000_000) == 1_000_000
        assert casekit.bulk_bytes(2_000) == 2_000  # never more than the case asks for
        limits.set_transfer_bytes(0)
        assert casekit.bulk_bytes(10_000_000) == 10_000_000
        assert casekit.bulk_timeout(600) == 600
        limits.set_transfer_timeout(120)
        assert casekit.bulk_timeout(600) == 120 and casekit.bulk_timeout(30) == 30
        limits.set_transfer_timeout(0)
        assert casekit.bulk_timeout(600) == 600
    finally:
        limits.set_transfer_bytes(None)
        limits.set_transfer_timeout(None)
