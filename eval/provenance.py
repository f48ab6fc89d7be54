"""Which code produced a set of figures: recorded in eval runs and benchmark results."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def revision(root: Path = ROOT) -> str | None:
    """`git describe --always --dirty` of the checkout holding this code; None when it is not a git checkout.

    Only `root` itself counts as a checkout: an installed copy inside some other repository (a
    virtualenv in a clone, say) would otherwise be stamped with that repository's commit.
    """
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=root,
                             timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None
