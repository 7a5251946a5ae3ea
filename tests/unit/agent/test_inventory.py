"""Inventory detection: parsers on sample /proc text, KVM and libvirt checks that never raise."""

from __future__ import annotations

from pathlib import Path

from agent import inventory

CPUINFO = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu vme sse2 vmx avx2

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu vme sse2 vmx avx2
"""

ARM_CPUINFO = """\
processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes
CPU implementer\t: 0x41

processor\t: 1
Features\t: fp asimd evtstrm aes
"""

MEMINFO = """\
MemTotal:       24684084 kB
MemFree:         1234567 kB
"""


def test_parse_cpuinfo_x86() -> None:
    count, model, flags = inventory.parse_cpuinfo(CPUINFO)
    assert count == 2
    assert model == "Intel(R) Xeon(R) Processor"
    assert flags == ["avx2", "fpu", "sse2", "vme", "vmx"]


def test_parse_cpuinfo_arm_and_garbage() -> None:
    count, model, flags = inventory.parse_cpuinfo(ARM_CPUINFO)
    assert count == 2 and model == "" and "asimd" in flags
    assert inventory.parse_cpuinfo("") == (0, "", [])
    assert inventory.parse_cpuinfo("no colons here\n\x00") == (0, "", [])


def test_parse_meminfo() -> None:
    assert inventory.parse_meminfo(MEMINFO) == 24684084 * 1024
    assert inventory.parse_meminfo("") == 0
    assert inventory.parse_meminfo("MemTotal: lots kB\n") == 0


def test_kvm_status_explains_a_missing_device(tmp_path: Path) -> None:
    usable, reason = inventory.kvm_status(str(tmp_path / "kvm"))
    assert not usable and "does not exist" in reason
    plain = tmp_path / "not-a-device"
    plain.write_text("")
    usable, reason = inventory.kvm_status(str(plain))
    assert not usable and "ioctl" in reason


def test_hypervisor_unavailable_is_reported_not_raised() -> None:
    available, description, reason, kvm = inventory.hypervisor_status(
        "qemu+unix:///system?socket=/nonexistent/libvirt-sock"
    )
    assert not available and description == "" and "cannot connect" in reason and kvm is None


def test_libvirt_test_driver_is_detected() -> None:
    available, description, reason, kvm = inventory.hypervisor_status("test:///default")
    assert available and reason == "" and "libvirt" in description
    assert kvm is None  # only asked of QEMU


def test_detect_fills_what_it_can(tmp_path: Path) -> None:
    found = inventory.detect(tmp_path / "data", "test:///default")
    assert found.vcpus >= 1 and found.memory_bytes > 0
    assert found.disk_bytes >= found.disk_free_bytes > 0
    assert found.hypervisor_available and found.arch
    assert found.kvm_reason
