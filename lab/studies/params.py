"""A page's URL parameters as data: each page declares a small table of `Param`s, and
lab.ui.urlstate reads, validates and writes them (as tensorflow/playground's PROPS).

Plain data, no streamlit, so a study module can declare its page's table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SHOWN_CHOICES = 12  # a refused value's message names at most this many allowed ones


@dataclass(frozen=True)
class Param:
    """One URL parameter: its name, type ('int', 'float' or 'choice'), default, and either
    its allowed values (choice) or inclusive (low, high) bounds (int, float)."""

    name: str
    kind: str
    default: object
    choices: tuple = ()
    bounds: tuple[float, float] | None = None

    def parse(self, raw: str) -> object:
        """The value a URL string stands for; ValueError says why it is refused."""
        if self.kind == "choice":
            match = [c for c in self.choices if str(c) == raw]
            if not match:
                shown = ", ".join(map(str, self.choices[:SHOWN_CHOICES]))
                more = len(self.choices) - SHOWN_CHOICES
                raise ValueError(f"not one of {shown}" + (f" and {more} more" if more > 0
                                                         else ""))
            return match[0]
        try:  # our own words: int()'s message would quote the raw value into the page
            value = int(raw) if self.kind == "int" else float(raw)
        except ValueError:
            raise ValueError("not a whole number" if self.kind == "int" else "not a number") \
                from None
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        low, high = self.bounds or (-math.inf, math.inf)
        if not low <= value <= high:
            raise ValueError(f"outside {low:g}..{high:g}")
        return value
