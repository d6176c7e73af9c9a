#!/usr/bin/env python3
"""Regenerate the key tables of docs/configuration.md from the config schema.

    python scripts/update-config-doc.py          # rewrite the generated block in place
    python scripts/update-config-doc.py --check  # exit 1 if the committed doc is out of date

The block between the BEGIN and END markers is `b2release config schema --markdown`; the
prose around it is kept. tests/test_config.py fails while the two differ.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from b2release.stages.config import schema  # noqa: E402 - after the path is set

DOC = REPO / "docs" / "configuration.md"


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    wanted = schema.update_document(current, schema.render_markdown(schema.json_schema()))
    if "--check" in argv:
        if wanted != current:
            print(f"{DOC.relative_to(REPO)} is out of date: run python scripts/update-config-doc.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"updated {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
