"""The `studymate` command answers at once and keeps the committed schema.graphql honest."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schema.graphql"


def studymate(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_subcommand() -> None:
    result = studymate("--help")

    assert result.returncode == 0
    for command in ("dev", "api", "worker", "migrate", "export-schema"):
        assert command in result.stdout


def test_help_imports_none_of_the_heavy_modules() -> None:
    probe = (
        "import sys, cli\n"
        "sys.argv = ['studymate', '--help']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('uvicorn', 'sqlalchemy', 'strawberry', 'arq', 'asyncpg', 'aiokafka')\n"
        "print('loaded:', sorted(name for name in heavy if name in sys.modules), file=sys.stderr)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0
    assert "loaded: []" in result.stderr


def test_export_schema_check_passes_on_the_committed_file() -> None:
    result = studymate("export-schema", "--check")

    assert result.returncode == 0, result.stdout + result.stderr


def test_export_schema_check_fails_with_a_diff_when_the_file_is_stale(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale_text = SCHEMA_FILE.read_text(encoding="utf-8") + "type Stale {\n  id: ID!\n}\n"
    stale.write_text(stale_text, encoding="utf-8")

    result = studymate("export-schema", "--check", "--path", str(stale))

    assert result.returncode == 1
    assert "-type Stale {" in result.stdout
    assert stale.read_text(encoding="utf-8") == stale_text


def test_export_schema_writes_what_check_accepts(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"

    written = studymate("export-schema", "--path", str(target))
    checked = studymate("export-schema", "--check", "--path", str(target))

    text = target.read_text(encoding="utf-8")
    assert written.returncode == 0, written.stderr
    assert "type Query {" in text
    assert text.endswith("}\n")
    assert checked.returncode == 0, checked.stdout + checked.stderr
