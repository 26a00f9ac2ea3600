"""`zoo generate`, `zoo translate` and `zoo neighbors` take a pretrained id as well as a folder."""

from __future__ import annotations

import pytest

from zoo.cli import main


def test_generate_takes_the_shipped_char_gru_id(capsys, shared_data):
    assert main(["generate", "char_gru-shakespeare", "--prompt", "romeo:", "--length", "60", "--seed", "0"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("romeo:") and len(text.strip()) >= 60


def test_translate_takes_the_shipped_seq2seq_id(capsys, shared_data):
    assert main(["translate", "seq2seq_gru-spa_eng", "i want to go home"]) == 0
    assert "casa" in capsys.readouterr().out  # "quiero irme a casa"


@pytest.mark.parametrize("argv, message", [
    (["generate", "char_gru-shakespear", "--prompt", "x"], "unknown pretrained id 'char_gru-shakespear'. Did you mean 'char_gru-shakespeare'"),
    (["translate", "mlp-wine", "hello"], "holds a 'mlp' checkpoint for multiclass, not a translation model"),
    (["neighbors", "mlp-wine", "king"], "holds a 'mlp' checkpoint for multiclass, not word vectors"),
])
def test_a_wrong_id_is_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
