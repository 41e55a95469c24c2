"""What the command-line tests share."""

import re

import pytest

from tinygrad_cnn.cli import main


def user_mistake(capsys, argv, pattern):
    """``main(argv)`` is a user mistake: exit status 2 and one line on stderr matching it."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("tinygrad-cnn "), err
    assert re.search(pattern, err), err
    return err
