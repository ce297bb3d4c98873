"""A target's deviation list: loaded strictly, and a malformed one says what is wrong."""

import re

import pytest

from tcpfault import target_deviations


def write(tmp_path, text):
    path = tmp_path / "lwip.toml"
    path.write_text(text)
    return str(path)


def test_a_listed_deviation_is_found_by_test_and_family(tmp_path):
    path = write(tmp_path, '''
[[deviation]]
test = "test_tw1"
reason = "TIME_WAIT is 2 x MSL"
match = "lasted 120"

[[deviation]]
test = "test_hs2"
reason = "IPv6 only"
match = "x"
family = "IPv6"
''')
    found = target_deviations.load(path)
    assert target_deviations.find(found, "test_tw1", "IPv4").reason == "TIME_WAIT is 2 x MSL"
    assert target_deviations.find(found, "test_hs2", "IPv4") is None
    assert target_deviations.find(found, "test_hs2", "IPv6").match.search("x")
    assert target_deviations.find(found, "test_cl1", "IPv4") is None


@pytest.mark.parametrize("text, message", [
    ("[[deviation]\n", "not valid TOML"),
    ('[[deviation]]\ntest = "t"\nmatch = "m"\n', "needs reason"),
    ('[[deviation]]\ntest = "t"\nreason = "r"\nmatch = "("\n', "match is not a regular expression"),
    ('[[deviation]]\ntest = "t"\nreason = "r"\nmatch = "m"\nwhy = 1\n', "unknown key(s) why"),
    ('[[deviation]]\ntest = "t"\nreason = "r"\nmatch = "m"\nfamily = "4"\n', "family is IPv4 or IPv6"),
])
def test_a_malformed_list_says_what_is_wrong(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(target_deviations.DeviationListError, match=re.escape(message)) as raised:
        target_deviations.load(path)
    assert path in str(raised.value)


def test_the_kernel_has_a_list_per_series_and_unnamed_agents_none(tmp_path):
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "kernel.toml").write_text("this is not read")
    (tmp_path / "targets" / "kernel-6.1.toml").write_text('[[deviation]]\ntest = "t"\nreason = "r"\nmatch = "m"\n')
    assert [d.test for d in target_deviations.for_target(str(tmp_path), "kernel", "6.1.0-57-amd64")] == ["t"]
    assert target_deviations.for_target(str(tmp_path), "kernel", "6.12.118+deb12-amd64") == []
    assert target_deviations.for_target(str(tmp_path), "agent:/bin/true") == []
    assert target_deviations.for_target(str(tmp_path), "lwip") == []  # no file: no deviation
    assert target_deviations.kernel_series("6.18.0-rc1") == "6.18"


def test_the_repository_lists_load():
    """Every list in cases/targets is well formed and names tests that exist."""
    import pathlib
    cases = pathlib.Path(__file__).resolve().parents[2] / "cases"
    sources = "".join(p.read_text() for p in cases.glob("test_*.py"))
    lists = sorted((cases / "targets").glob("*.toml"))
    assert any(p.name.startswith("kernel-") for p in lists)
    for path in lists:
        for deviation in target_deviations.load(str(path)):
            assert f"def {deviation.test}(" in sources, f"{path.name}: no test {deviation.test}"
