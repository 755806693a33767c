from pathlib import Path

import numpy as np
import pytest

from octorec.cli import main
from octorec.embeddings.text_file import TextFileError, read_texts


def test_every_line_is_one_text_and_blank_lines_are_kept(tmp_path: Path) -> None:
    source = tmp_path / "texts.txt"
    source.write_bytes(b"first\r\n\nthird\n")
    assert read_texts(source) == ["first", "", "third"]


def test_a_line_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    source = tmp_path / "texts.txt"
    source.write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(TextFileError, match=r"texts.txt, line 2: not UTF-8 \(byte 5\)"):
        read_texts(source)


@pytest.mark.slow
def test_octorec_embed_writes_one_normalised_row_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("A web framework\n\nA game engine\n", encoding="utf-8")
    output = tmp_path / "vectors.npy"

    assert main(["embed", "--input", str(source), "--output", str(output)]) == 0

    vectors = np.load(output)
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert "embedded 3 texts with onnx-int8 on cpu" in capsys.readouterr().err


def test_octorec_embed_reports_a_missing_file_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "vectors.npy"
    status = main(["embed", "--input", str(tmp_path / "nope.txt"), "--output", str(output)])
    assert status == 1
    assert "nope.txt: cannot read" in capsys.readouterr().err
    assert not output.exists()
