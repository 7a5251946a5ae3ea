"""Running ``python -m storage.object`` as a real process for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class ObjectServerProcess:
    """One object-server process on port 0; its port comes from ``--ready-file``."""

    def __init__(self, root: Path, devices: tuple[str, ...] = ("d1",)) -> None:
        self.root = root
        self.devices = devices
        self.credential_file = root / "credential"
        self.log_path = root / "object-server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def argv(self) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "storage.object",
            "--data-dir",
            str(self.root / "data"),
            "--devices-root",
            str(self.root / "devices"),
            "--credential-file",
            str(self.credential_file),
            "--init-credential",
            "--create-devices",
            "--listen",
            "127.0.0.1:0",
            "--ready-file",
            str(self.root / "ready"),
        ]
        for device in self.devices:
            argv += ["--device", device]
        return argv

    def start(self, timeout: float = 30.0) -> ObjectServerProcess:
        ready = self.root / "ready"
        ready.unlink(missing_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"object server exited with {self.process.returncode}: {self.log_tail()}"
                )
            text = ready.read_text().strip() if ready.exists() else ""
            if text.isdigit():
                self.port = int(text)
                return self
            if time.monotonic() > deadline:
                raise TimeoutError(f"object server did not start: {self.log_tail()}")
            time.sleep(0.05)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def credential(self) -> str:
        return self.credential_file.read_text().strip()

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-10:])
        except OSError:
            return ""

    def peak_rss_kib(self) -> int:
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise AssertionError("no VmHWM")

    def rss_kib(self) -> int:
        """The process's resident memory now."""
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def reset_peak_rss(self) -> None:
        """Set the peak (VmHWM) back to the current RSS, so a phase's own peak can be read."""
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/clear_refs", "w") as clear_refs:
            clear_refs.write("5")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a crash or power loss of the process."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.terminate()
        try:
            return self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
