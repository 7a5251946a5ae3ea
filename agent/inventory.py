"""What this host offers: CPUs, memory, disk, CPU model and flags, KVM, the hypervisor.

Detection never raises: a source that cannot be read leaves its fields empty,
and an unusable KVM or an absent libvirtd is reported with the reason (a node
without libvirtd still registers; the scheduler decides what to do with it).
The parsers take text so tests feed them sample /proc files.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import platform
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("cumulo.agent.inventory")

#: ioctl numbers from <linux/kvm.h>.
KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_API_VERSION = 12


@dataclass
class HostInventory:
    hostname: str = ""
    vcpus: int = 0
    memory_bytes: int = 0
    disk_bytes: int = 0
    disk_free_bytes: int = 0
    cpu_model: str = ""
    cpu_flags: list[str] = field(default_factory=list)
    arch: str = ""
    kernel: str = ""
    kvm_usable: bool = False
    kvm_reason: str = ""
    hypervisor_available: bool = False
    hypervisor: str = ""
    hypervisor_reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_cpuinfo(text: str) -> tuple[int, str, list[str]]:
    """``(logical CPUs, model name, sorted flags)`` from /proc/cpuinfo text."""
    count = 0
    model = ""
    flags: set[str] = set()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "processor":
            count += 1
        elif key in ("model name", "cpu model", "Model") and not model:
            model = value
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return count, model, sorted(flags)


def parse_meminfo(text: str) -> int:
    """MemTotal in bytes from /proc/meminfo text (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                scale = 1024 if len(parts) < 3 or parts[2].lower() == "kb" else 1
                return int(parts[1]) * scale
    return 0


def kvm_status(device: str = "/dev/kvm") -> tuple[bool, str]:
    """Whether KVM works: the device opens read-write, speaks API 12 and creates a VM."""
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False, f"{device} does not exist (no KVM module or no hardware virtualization)"
    except PermissionError:
        return False, f"no permission to open {device} (add the user to group kvm)"
    except OSError as exc:
        return False, f"cannot open {device}: {exc.strerror}"
    try:
        version = fcntl.ioctl(fd, KVM_GET_API_VERSION)
        if version != KVM_API_VERSION:
            return False, f"{device} speaks KVM API {version}, expected {KVM_API_VERSION}"
        try:
            vm_fd = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        except OSError as exc:
            name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
            return False, f"KVM refused to create a VM ({name}); guests run under TCG"
        os.close(vm_fd)
        return True, "KVM API 12, VM creation works"
    except OSError as exc:
        return False, f"{device} does not answer KVM ioctls: {exc.strerror}"
    finally:
        os.close(fd)


def hypervisor_status(uri: str) -> tuple[bool, str, str, bool | None]:
    """``(available, description, reason, libvirt says kvm works)`` for libvirt at ``uri``."""
    try:
        import libvirt
    except ImportError as exc:
        return False, "", f"libvirt-python is not installed: {exc}", None
    # libvirt prints every error to stderr by default; we report them ourselves.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    try:
        connection = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        return False, "", f"cannot connect to libvirt at {uri}: {exc.get_error_message()}", None
    try:
        kind = connection.getType()
        version = _version(connection.getVersion())
        library = _version(connection.getLibVersion())
        kvm: bool | None = None
        if uri.startswith("qemu"):
            try:
                connection.getDomainCapabilities(None, None, None, "kvm")
                kvm = True
            except libvirt.libvirtError:
                kvm = False
        return True, f"{kind} {version} (libvirt {library})", "", kvm
    except libvirt.libvirtError as exc:
        return False, "", f"libvirt at {uri} failed: {exc.get_error_message()}", None
    finally:
        connection.close()


def _version(number: int) -> str:
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def detect(data_dir: Path, hypervisor_uri: str) -> HostInventory:
    """Detect this host's inventory (blocking: run it in a thread)."""
    vcpus, model, flags = parse_cpuinfo(_read("/proc/cpuinfo"))
    inventory = HostInventory(
        hostname=socket.gethostname(),
        vcpus=vcpus or (os.cpu_count() or 0),
        memory_bytes=parse_meminfo(_read("/proc/meminfo")),
        cpu_model=model,
        cpu_flags=flags,
        arch=platform.machine(),
        kernel=platform.release(),
    )
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        stat = os.statvfs(data_dir)
        inventory.disk_bytes = stat.f_blocks * stat.f_frsize
        inventory.disk_free_bytes = stat.f_bavail * stat.f_frsize
    except OSError as exc:
        log.warning("cannot measure the disk of %s: %s", data_dir, exc)
    inventory.kvm_usable, inventory.kvm_reason = kvm_status()
    available, description, reason, libvirt_kvm = hypervisor_status(hypervisor_uri)
    inventory.hypervisor_available = available
    inventory.hypervisor = description
    inventory.hypervisor_reason = reason
    if libvirt_kvm is False and inventory.kvm_usable:
        inventory.kvm_usable = False
        inventory.kvm_reason = "libvirt reports no KVM domain support; guests run under TCG"
    return inventory
