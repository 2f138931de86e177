"""``statetrack figures``: its bad inputs (the drawing itself: tests/theory/test_figures.py)."""

from __future__ import annotations

from statetrack import cli


def test_outdir_that_is_a_file_is_named_as_such(tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("kept")
    assert cli.main(["figures", "--outdir", str(f)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"statetrack figures: error: --outdir {f}: is a file, not a folder; "
                            f"name a folder (created if needed)\n")
    assert captured.out == "" and f.read_text() == "kept"


def test_outdir_through_a_missing_folder_to_a_file_makes_nothing(tmp_path, capsys,
                                                                  monkeypatch):
    """'nodir/../abb.json' (abb.json a file) said 'cannot write (File exists)' and left an
    empty folder 'nodir' behind; the path is normalized first: 'is a file'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "abb.json").write_text("{}")
    assert cli.main(["figures", "--outdir", "nodir/../abb.json"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abb.json"]
