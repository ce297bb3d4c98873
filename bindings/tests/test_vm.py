"""tcpfault vm without booting: argument checks, version resolution, the config check, the
initramfs, and the host side of a run against a stand-in QEMU (tests/vm_fake_qemu.py): the
exit status passed through, a guest that dies or hangs, a kill -9 that leaves no VM behind.
The real boot is the ctest `vm_cl2` (label vm)."""

import argparse
import json
import os
import pathlib
import select
import signal
import subprocess
import sys
import tempfile

import pytest

from tcpfault.vm import command, config_check, initramfs, kernel, qemu
from tcpfault.vm.errors import VmError

HERE = pathlib.Path(__file__).resolve().parent
RELEASE = "9.9.9-test-amd64"
ROOT_MODULES = {"virtio_pci": ["virtio", "virtio_ring"], "9pnet_virtio": ["9pnet", "virtio_ring"],
                "9p": ["9pnet", "netfs"], "overlay": []}
GOOD_CONFIG = "\n".join(f"{key}=m" for key, _ in config_check.required())


def fake_tree(root, config=GOOD_CONFIG):
    """An unpacked kernel package that boots nothing: boot/, lib/modules/RELEASE with modules.dep."""
    boot, modules = root / "boot", root / "lib" / "modules" / RELEASE
    boot.mkdir(parents=True)
    (boot / f"vmlinuz-{RELEASE}").write_bytes(b"not a kernel")
    (boot / f"config-{RELEASE}").write_text(config + "\n")
    dep = []
    for name, deps in ROOT_MODULES.items():
        for module in [name] + deps:
            path = modules / "kernel" / f"{module}.ko"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(module.encode())
        dep.append(f"kernel/{name}.ko: " + " ".join(f"kernel/{d}.ko" for d in deps))
    dep += [f"kernel/{d}.ko:" for d in ("virtio", "virtio_ring", "9pnet", "netfs")]
    (modules / "modules.dep").write_text("\n".join(dep) + "\n")
    (modules / "modules.order").write_text("")
    return root


def tcpfault(*args, cwd, cache, guest="run", **popen):
    env = dict(os.environ, TCPFAULT_CASES=str(HERE.parents[1] / "cases"), TCPFAULT_VM_CACHE=str(cache),
               TCPFAULT_VM_QEMU=str(HERE / "vm_fake_qemu.py"),
               FAKE_GUEST=guest)
    argv = [sys.executable, "-m", "tcpfault.cli", *args]
    if popen:
        return subprocess.Popen(argv, env=env, cwd=cwd, **popen)
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


# ---- bad input: one clear error, before any work ----

@pytest.mark.parametrize("args, message", [
    (["--kernel", "6.1"], "nothing to run: give a tcpfault command after --"),
    (["--kernel", "6.1", "--"], "nothing to run"),
    (["--kernel", "/no/such/kernel", "--", "list"], "--kernel /no/such/kernel: no such file or directory"),
    (["--kernel", "banana", "--", "list"], "not a version (6.1, 6.12), a package"),
    (["--kernel", "6.1", "--timeout", "0", "--", "list"], "--timeout must be more than 0"),
    (["--kernel", "6.1", "--", "vm", "--kernel", "6.1"], "tcpfault vm inside tcpfault vm"),
    (["--kernel", "6.1", "--", "conformance", "--json", "/no/such/folder/r.json"],
     "--json /no/such/folder/r.json: the folder /no/such/folder does not exist"),
])
def test_bad_input_is_one_error_before_any_work(tmp_path, args, message):
    out = tcpfault("vm", *args, cwd=tmp_path, cache=tmp_path / "cache")
    assert out.returncode == 2, out.stdout + out.stderr  # bad usage (tcpfault.exit_codes)
    assert out.stderr.startswith("tcpfault vm: ") and message in out.stderr, out.stderr
    assert not (tmp_path / "cache").exists()  # nothing fetched, no run folder


def test_an_image_needs_its_modules(tmp_path):
    image = tmp_path / "vmlinuz"
    image.write_bytes(b"x")
    with pytest.raises(VmError, match="give its modules with --modules DIR"):
        kernel.resolve(str(image))


def test_an_unknown_version_is_named():
    with pytest.raises(VmError, match=r"no Debian kernel package for version '1\.0'"):
        kernel.resolve_version("1.0")


def test_offline_a_version_is_the_newest_package_already_fetched(tmp_path, monkeypatch):
    monkeypatch.setenv("TCPFAULT_VM_CACHE", str(tmp_path))
    for name in ("linux-image-1.0.0-2-amd64", "linux-image-1.0.0-10-amd64", "linux-image-1.0.0-11-amd64"):
        (tmp_path / "kernels" / name).mkdir(parents=True)
    for name in ("linux-image-1.0.0-2-amd64", "linux-image-1.0.0-10-amd64"):  # -11: a fetch that died
        (tmp_path / "kernels" / name / ".complete").write_text(name)
    assert kernel.resolve_version("1.0") == "linux-image-1.0.0-10-amd64"


# ---- which package a version means ----

NAMES = """linux-image-6.1.0-9-amd64 linux-image-6.1.0-57-amd64 linux-image-6.1.0-100-cloud-amd64
linux-image-6.1.0-57-amd64-dbg linux-image-6.1.0-57-amd64-unsigned linux-image-6.1.0-57-rt-amd64
linux-image-6.12-amd64 linux-image-6.12.100+deb12-amd64 linux-image-6.12.118+deb12-amd64
linux-image-6.12.118+deb12-cloud-amd64 linux-image-amd64""".split()


@pytest.mark.parametrize("version, newest", [
    ("6.1", "linux-image-6.1.0-57-amd64"),
    ("6.1.0-9", "linux-image-6.1.0-9-amd64"),
    ("6.12", "linux-image-6.12.118+deb12-amd64"),
    ("6.12.100", "linux-image-6.12.100+deb12-amd64"),
])
def test_a_version_picks_the_newest_generic_amd64_package(version, newest):
    assert kernel.package_for_version(version, NAMES)[0] == newest


def test_6_1_does_not_match_6_12_nor_other_flavours():
    found = kernel.package_for_version("6.1", NAMES)
    assert found == ["linux-image-6.1.0-57-amd64", "linux-image-6.1.0-9-amd64"]
    assert kernel.package_for_version("5.10", NAMES) == []


@pytest.mark.parametrize("spec, kind", [("6.1", "version"), ("6.12.118+deb12", "version"),
                                        ("linux-image-6.1.0-57-amd64", "package")])
def test_kinds_of_kernel(spec, kind):
    assert kernel.check_spec(spec) == kind


# ---- the config check ----

def test_the_config_check_names_what_is_missing(tmp_path):
    config = GOOD_CONFIG.replace("CONFIG_9P_FS=m", "# CONFIG_9P_FS is not set").replace(
        "CONFIG_INET_DIAG_DESTROY=m", "")
    kern = kernel.from_tree(str(fake_tree(tmp_path, config)), "test")
    with pytest.raises(VmError) as error:
        config_check.check(kern)
    text = str(error.value)
    assert "CONFIG_9P_FS" in text and "cloud" in text and "CONFIG_INET_DIAG_DESTROY" in text
    assert "CONFIG_NET_NS" not in text


def test_the_middlebox_rule_needs_nf_tables_and_its_xtables_bridge():
    keys = {key for key, _ in config_check.required()}
    assert {"CONFIG_NF_TABLES", "CONFIG_NFT_COMPAT", "CONFIG_NETFILTER_XT_TARGET_NFQUEUE"} <= keys
    assert "CONFIG_IP_NF_FILTER" not in keys


def test_a_missing_option_stops_the_run_before_booting(tmp_path):
    tree = fake_tree(tmp_path / "k", GOOD_CONFIG.replace("CONFIG_VETH=m", ""))
    out = tcpfault("vm", "--kernel", str(tree), "--", "list", cwd=tmp_path, cache=tmp_path / "cache")
    assert out.returncode == 3 and "CONFIG_VETH (the links between the namespaces)" in out.stderr, out.stderr
    assert not (tmp_path / "cache").exists()


# ---- the initramfs ----

def test_the_initramfs_holds_busybox_init_and_the_root_modules_dependencies_first(tmp_path):
    kern = kernel.from_tree(str(fake_tree(tmp_path / "k")), "test")
    order = initramfs.module_closure(kern.modules, initramfs.ROOT_MODULES)
    names = [initramfs.module_name(p) for p in order]
    assert set(names) == {"virtio_pci", "virtio", "virtio_ring", "9pnet_virtio", "9pnet", "9p", "netfs", "overlay"}
    assert names.index("virtio") < names.index("virtio_pci") and names.index("netfs") < names.index("9p")
    archive = pathlib.Path(initramfs.build(kern, str(tmp_path))).read_bytes()
    assert archive.startswith(b"070701") and b"TRAILER!!!" in archive
    for name in (b"init\0", b"bin/busybox\0", b"dev/console\0", b"modules/9p.ko\0", b"modules/order\0"):
        assert name in archive


# ---- the host side of a run, against a stand-in QEMU ----

def test_output_folders_are_the_cwd_and_the_outputs_folders(tmp_path):
    (tmp_path / "out").mkdir()
    words = ["conformance", "--json", "out/r.json", f"--artifacts={tmp_path}/out/new/art"]
    assert command.output_folders(words, str(tmp_path)) == [str(tmp_path)]
    words[2] = str(tmp_path / "out" / "r.json")
    assert command.output_folders(words, "/") == [str(tmp_path / "out")]
    assert command.output_folders(["list"], "/") == []


def test_conformance_without_artifacts_keeps_them_on_the_host(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    words = command.with_host_artifacts(["conformance", "-k", "cl2"])
    assert words[:3] == ["conformance", "-k", "cl2"] and words[3] == "--artifacts"
    assert pathlib.Path(words[4]).is_dir() and words[4].startswith(str(tmp_path))
    assert command.with_host_artifacts(["conformance", "--artifacts=x"]) == ["conformance", "--artifacts=x"]
    assert command.with_host_artifacts(["list"]) == ["list"]


@pytest.mark.parametrize("args, code", [(["list"], 0), (["wire-states-report", "/no/such/records"], 2),
                                        (["pytest", "--version"], 0), (["pytest", "/no/such/tests.py"], 4)])
def test_the_guest_commands_exit_status_is_ours(tmp_path, args, code):
    tree = fake_tree(tmp_path / "k")
    out = tcpfault("vm", "--kernel", str(tree), "--", *args, cwd=tmp_path, cache=tmp_path / "cache")
    assert out.returncode == code, out.stdout + out.stderr
    assert os.listdir(tmp_path / "cache" / "runs") == []  # the run's folder is gone


def test_a_guest_that_dies_without_an_exit_status_is_exit_3(tmp_path):
    tree = fake_tree(tmp_path / "k")
    out = tcpfault("vm", "--kernel", str(tree), "--", "list", cwd=tmp_path, cache=tmp_path / "cache", guest="die")
    assert out.returncode == command.VM_FAILED
    assert "the guest stopped without an exit status" in out.stderr and "the guest died" in out.stdout


def test_the_timeout_stops_the_vm(tmp_path):
    tree = fake_tree(tmp_path / "k")
    out = tcpfault("vm", "--kernel", str(tree), "--timeout", "2", "--", "list", cwd=tmp_path,
                   cache=tmp_path / "cache", guest="hang")
    assert out.returncode == command.VM_FAILED and "timed out after 2 s" in out.stderr, out.stderr
    assert os.listdir(tmp_path / "cache" / "runs") == []


def wait_gone(pid, seconds):
    """True when the process `pid` ended within `seconds` (its pidfd becomes readable)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], seconds)[0])
    finally:
        os.close(fd)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_vm_dies_with_tcpfault(tmp_path, how):
    tree, cache = fake_tree(tmp_path / "k"), tmp_path / "cache"
    run = tcpfault("vm", "--kernel", str(tree), "--", "list", cwd=tmp_path, cache=cache, guest="hang",
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([run.stdout], [], [], 60)
        assert ready, "the stand-in QEMU did not start"
        line = run.stdout.readline().decode()
        assert line.startswith("fake qemu "), line
        vm = int(line.split()[2])
        run.send_signal(how)
        assert run.wait(timeout=60) == (-how if how == signal.SIGKILL else 128 + how)
        assert wait_gone(vm, 30), "the VM outlived tcpfault"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    left = os.listdir(cache / "runs")
    assert left == ([] if how == signal.SIGTERM else left)
    # The next run removes what a killed one left.
    out = tcpfault("vm", "--kernel", str(tree), "--", "list", cwd=tmp_path, cache=cache)
    assert out.returncode == 0 and os.listdir(cache / "runs") == [], out.stderr


def test_kvm_only_with_vmx_or_svm(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu sse2 hypervisor\n")
    assert not qemu.use_kvm(str(cpuinfo))
    argv = qemu.command_line("k", "i", "a", [("hostroot", "/", False)], kvm=False)
    assert argv[argv.index("-accel") + 1] == "tcg,thread=multi" and argv[argv.index("-cpu") + 1] == "qemu64"
    assert "readonly=on" in argv[argv.index("-virtfs") + 1] and ["-nic", "none"] == argv[argv.index("-nic"):][:2]


# ---- virtual time ----

def test_virtual_time_is_tcg_with_icount_on_one_vcpu_even_where_kvm_would_run():
    for kvm in (False, True):
        argv = qemu.command_line("k", "i", "a", [("hostroot", "/", False)], kvm=kvm, virtual_time=True)
        assert argv[argv.index("-accel") + 1] == "tcg,thread=single" and argv[argv.index("-cpu") + 1] == "qemu64"
        assert argv[argv.index("-icount") + 1] == "shift=0,sleep=off"
        assert argv[argv.index("-smp") + 1] == "1"
    real = qemu.command_line("k", "i", "a", [("hostroot", "/", False)], kvm=False)
    assert "-icount" not in real and real[real.index("-smp") + 1] == "2"


def test_a_virtual_time_guest_knows_its_clock_is_virtual(tmp_path):
    tree = fake_tree(tmp_path / "k")
    script = tmp_path / "test_clock.py"
    script.write_text("import os\n\ndef test_clock():\n    assert os.environ.get('TCPFAULT_VIRTUAL_TIME') == '1'\n")
    pytest_args = ["--", "pytest", "-p", "no:cacheprovider", "-q", str(script)]
    out = tcpfault("vm", "--kernel", str(tree), "--virtual-time", *pytest_args, cwd=tmp_path, cache=tmp_path / "c")
    assert out.returncode == 0, out.stdout + out.stderr
    out = tcpfault("vm", "--kernel", str(tree), *pytest_args, cwd=tmp_path, cache=tmp_path / "c")
    assert out.returncode == 1, "without --virtual-time the guest's clock is not virtual: " + out.stdout


def test_the_last_line_names_the_guest_clock_and_the_wall_time():
    kern = kernel.Kernel("test", RELEASE, "vmlinuz", "modules", None)
    line = command.ran_note(kern, "1.5", "81.5", 13.54, virtual_time=True)
    assert line == (f"Linux {RELEASE}: booted in 1.5 s, the command ran 80.0 s (guest clock, virtual), "
                    "13.5 s of wall time in all")
    assert "virtual" not in command.ran_note(kern, "1.5", "81.5", 90, virtual_time=False)


def test_virtual_time_where_kvm_would_run_is_tcg_and_says_so(tmp_path, monkeypatch, capsys):
    """icount is TCG's alone: asked for virtual time on a KVM host, the guest runs under TCG
    (still far quicker than KVM for a run that mostly waits), with one line saying so."""
    tree = fake_tree(tmp_path / "k")
    argv_file = tmp_path / "qemu-argv.json"
    monkeypatch.setattr(qemu, "use_kvm", lambda: True)
    monkeypatch.setattr(qemu, "QEMU", str(HERE / "vm_fake_qemu.py"))
    monkeypatch.setenv("TCPFAULT_VM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TCPFAULT_CASES", str(HERE.parents[1] / "cases"))
    monkeypatch.setenv("FAKE_QEMU_ARGV", str(argv_file))
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    options = parser.parse_args(["vm", "--kernel", str(tree), "--virtual-time", "--", "list"])
    assert options.run(options) == 0
    assert "--virtual-time: the guest runs under TCG, not KVM" in capsys.readouterr().err
    used = json.loads(argv_file.read_text())
    assert "kvm" not in used and used[used.index("-icount") + 1] == "shift=0,sleep=off"


def test_a_virtual_guest_s_reports_say_their_durations_are_guest_time(monkeypatch):
    from tcpfault import guest_clock
    monkeypatch.delenv(guest_clock.VIRTUAL, raising=False)
    assert (guest_clock.name(), guest_clock.label()) == ("real", "")
    monkeypatch.setenv(guest_clock.VIRTUAL, "1")
    assert (guest_clock.name(), guest_clock.label()) == ("virtual", " of virtual guest time")


def test_the_timeout_is_wall_time_with_virtual_time_too(tmp_path):
    tree = fake_tree(tmp_path / "k")
    out = tcpfault("vm", "--kernel", str(tree), "--virtual-time", "--timeout", "2", "--", "list", cwd=tmp_path,
                   cache=tmp_path / "cache", guest="hang")
    assert out.returncode == command.VM_FAILED and "timed out after 2 s" in out.stderr, out.stderr
