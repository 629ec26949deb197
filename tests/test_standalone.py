"""The repository stands alone: nothing in it points to notes that are not part of it."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Built from parts, so that this file does not name them itself.
ABSENT_NOTES = tuple(name + ".md" for name in ("DESIGN", "PROTOCOLS", "STYLE"))
TEXT_SUFFIXES = {".py", ".yaml", ".yml", ".toml", ".md", ".txt", ".cfg", ".ini", ".sh", ""}


def repository_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True)
    if listed.returncode == 0:
        return [REPO / line for line in listed.stdout.splitlines() if (REPO / line).is_file()]
    skip = {".git", ".venv", "build", "outputs", "multirun", "__pycache__"}
    return [p for p in REPO.rglob("*") if p.is_file() and not skip & set(p.relative_to(REPO).parts)]


def test_no_file_refers_to_notes_outside_the_repository() -> None:
    offenders = []
    for path in repository_files():
        if path.suffix not in TEXT_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if any(name in line for name in ABSENT_NOTES):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:100]}")
    assert not offenders, "references to notes that are not in the repository:\n" + "\n".join(offenders)


def test_the_protocols_page_has_the_sections_docstrings_cite() -> None:
    page = (REPO / "docs" / "protocols.md").read_text(encoding="utf-8")
    for section in range(1, 11):
        assert f"\n## {section}. " in page
    assert "## Shared invariants" in page and "## Scripted behaviour models" in page
