"""Helpers shared by the command-line tests."""

from __future__ import annotations

import pytest

from frame_restore_ros.cli.main import main


def argument_error(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    """Run ``args``; assert argparse refused them (exit 2, no traceback); return its message."""
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err
