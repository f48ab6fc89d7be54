"""Is this CPU able to run the llama.cpp build in this environment?

Set-up builds llama.cpp for the CPU it runs on (the AVX-512 family where present) and writes the
CPU features that build needs to `<environment>/share/seedqa/llama-cpu-flags`. An environment
copied to a CPU without them would die with "illegal instruction" at the first prompt; checking
before the library is loaded turns that into a message saying what to do.
"""

import sys
from pathlib import Path

from qa.errors import UserError


class CPUError(UserError):
    """The installed llama.cpp build uses instructions this CPU does not have."""


def flags_file() -> Path:
    return Path(sys.prefix) / "share" / "seedqa" / "llama-cpu-flags"


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The CPU's feature flags as Linux reports them; None where they cannot be read (not Linux)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return None


def check_cpu(needs: Path | None = None, cpuinfo: Path = Path("/proc/cpuinfo")) -> None:
    """Raise CPUError when the build needs CPU features this CPU lacks; pass when either is unknown."""
    needs = needs or flags_file()
    try:
        required = set(needs.read_text(encoding="utf-8").split())
    except OSError:
        return  # not installed by scripts/setup.sh (or built with QA_LLAMA_CMAKE_ARGS): nothing recorded
    have = cpu_flags(cpuinfo)
    if have is None or required <= have:
        return
    missing = " ".join(sorted(required - have))
    raise CPUError(
        f"The llama.cpp in this environment was built for a CPU with {missing}, which this CPU lacks "
        "(it would crash with an illegal instruction). Rebuild it for this machine: "
        "rm -f .venv/.seedqa-installed && make setup   (QA_LLAMA_CPU=portable builds one that runs on any AVX2 CPU)."
    )
