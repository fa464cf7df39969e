"""Tables a phone can read: a plain HTML table on a wide screen that, below NARROW_PX, turns
each row into a card (its first cell as the card's title, every other cell as 'column:
value' lines), so no table is wider than the screen and the arms stay side by side in reading
order instead of hidden off to the right. st.dataframe's grid scrolls sideways at 390 px.

`html_table` is plain text (testable without streamlit); `show` draws it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import pandas as pd
import streamlit as st

NARROW_PX = 640  # below this width (a phone) the rows stack as cards
MISSING = "–"  # a cell with no value; never 'nan', 'None' or 'inf'

STYLE = f"""<style>
.lab-table {{ border-collapse: collapse; width: 100%; font-size: 0.88rem; }}
.lab-table th, .lab-table td {{ padding: 0.25rem 0.6rem; text-align: left;
  border-bottom: 1px solid rgba(128, 128, 128, 0.25); overflow-wrap: anywhere; }}
.lab-table th {{ font-weight: 600; }}
@media (max-width: {NARROW_PX}px) {{
  .lab-table thead {{ display: none; }}
  .lab-table, .lab-table tbody, .lab-table tr, .lab-table td {{ display: block; width: 100%;
    box-sizing: border-box; }}
  .lab-table tr {{ margin-bottom: 0.6rem; border: 1px solid rgba(128, 128, 128, 0.35);
    border-radius: 0.4rem; }}
  .lab-table td {{ border: none; display: flex; gap: 0.8rem; justify-content: space-between; }}
  .lab-table td::before {{ content: attr(data-label); font-weight: 600; flex: 0 0 45%; }}
  .lab-table td:first-child {{ font-weight: 600; background: rgba(128, 128, 128, 0.12); }}
  .lab-table td:first-child::before {{ content: none; }}
}}
</style>"""


def cell(x) -> str:
    """One value as table text: floats to 3 significant digits, a missing value as MISSING,
    an infinite one (a failed run's loss) as 'failed'."""
    if x is None:
        return MISSING
    if isinstance(x, float):
        if math.isnan(x):
            return MISSING
        if math.isinf(x):
            return "failed"
        return no_negative_zero(f"{x:.3g}")
    return str(x)


def fixed(digits: int) -> Callable[[float], str]:
    """A formatter with `digits` decimals that never writes '-0.000' (a tiny negative
    rounded away), and MISSING for no value."""
    def fmt(x) -> str:
        if x is None or (isinstance(x, float) and not math.isfinite(x)):
            return cell(x)
        return no_negative_zero(f"{x:.{digits}f}")
    return fmt


def no_negative_zero(text: str) -> str:
    """'-0', '-0.0', '-0.000' as the same without the sign."""
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def html_table(df: pd.DataFrame, fmt: dict[str, Callable] | None = None,
               index: bool = False) -> str:
    """df as an HTML table with the narrow-screen card layout; fmt maps a column to a
    formatter (cell() for the others); index=True keeps the index as the first column."""
    if index:
        df = df.reset_index()
    fmt = fmt or {}
    cols = [str(c) for c in df.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    rows = []
    for values in df.itertuples(index=False):
        cells = "".join(
            f'<td data-label="{html.escape(c, quote=True)}">'
            f"{html.escape(fmt.get(c, cell)(x) if x is not None else MISSING)}</td>"
            for c, x in zip(cols, values, strict=True))
        rows.append(f"<tr>{cells}</tr>")
    return (f'{STYLE}<table class="lab-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def show(df: pd.DataFrame, fmt: dict[str, Callable] | None = None, index: bool = False,
         container=None) -> None:
    """Draw df as a phone-readable table (html_table) in container (default: the page)."""
    (container or st).html(html_table(df, fmt, index))
