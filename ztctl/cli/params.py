"""Click parameter types shared by several commands."""

from __future__ import annotations

import math
from typing import Any

import click


class Seconds(click.ParamType):
    """A finite number of seconds within ``[minimum, maximum]``.

    ``click.FloatRange`` lets ``nan`` through (every comparison with it is false) and, without
    a maximum, ``inf``; both then crash deep inside a probe. Here they are a usage error
    (exit 2), as any other bad value.
    """

    name = "seconds"

    def __init__(self, minimum: float = 0.0, maximum: float = 3600.0) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float | int) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{str(value)[:40]!r} is not a number of seconds", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        if not self.minimum <= number <= self.maximum:
            self.fail(
                f"{number:g} is not between {self.minimum:g} and {self.maximum:g} seconds",
                param,
                ctx,
            )
        return number

    def __repr__(self) -> str:
        return f"Seconds({self.minimum:g}, {self.maximum:g})"
