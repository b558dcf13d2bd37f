"""The one rule for a question asked before changing anything (apply, destroy, keys rotate).

The default is no. An answer of no (or no answer: end of input, Ctrl-C) changes nothing, says
"Nothing changed." on stderr and exits 1, so a script's ``&&`` never runs the next step on a
refusal. ``--yes`` skips the question.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import click

from vpnctl.errors import Declined


@dataclass
class Prompt:
    """Asks ``question`` once; remembers the answer and when it came."""

    question: str
    answer: bool | None = None
    answered_at: float | None = None

    def __call__(self) -> bool:
        sys.stdout.flush()  # the change set first: stdout into a pipe is block-buffered
        try:
            self.answer = click.confirm(self.question, default=False, err=True)
        except click.Abort:
            click.echo("", err=True)  # end the prompt's line
            self.answer = False
        self.answered_at = time.monotonic()
        return self.answer

    def check(self) -> None:
        """Raise ``Declined`` if the question was asked and answered no."""
        if self.answer is False:
            raise Declined


def ask(question: str, yes: bool) -> None:
    """For commands that ask before they begin: return on yes, raise ``Declined`` on no."""
    if not yes:
        prompt = Prompt(question)
        prompt()
        prompt.check()
