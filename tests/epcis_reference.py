"""Where the tests find GS1's EPCIS 2.0 reference files (../shared/reference/epcis beside the
repository: GS1 artefacts, not shipped, see their README). Missing, a test that needs them
skips naming the path, except under CI=true, where they are always there and it fails."""
import os
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "epcis"
SCHEMA = REFERENCE / "schema" / "EPCIS-JSON-Schema.json"
EXAMPLES = REFERENCE / "examples"


def need(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing: CI must have GS1's EPCIS reference files")
        pytest.skip(f"{path} is missing (GS1's EPCIS reference files: ../shared/reference/epcis)")
    return path


def examples() -> list[Path]:
    """The example documents (an empty list when missing: the test taking them calls need)."""
    return sorted(EXAMPLES.glob("*.jsonld")) if EXAMPLES.is_dir() else []
