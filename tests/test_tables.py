"""Phone-readable tables (lab.ui.tables): every cell labelled for the stacked card layout,
no 'nan' or 'inf' in a cell, and the card layout switched on below NARROW_PX."""

from __future__ import annotations

import html
import math
import re

import pandas as pd
import pytest

from lab.ui import tables


def test_every_cell_carries_its_column_for_the_card_layout():
    df = pd.DataFrame({"arm": ["tanh", "relu"], "final loss": [0.3671, math.inf],
                       "horizon": [24.0, math.nan]})
    text = tables.html_table(df)
    assert text.count('data-label="final loss"') == 2 and text.count("<tr>") == 3
    assert f"@media (max-width: {tables.NARROW_PX}px)" in text
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", text)
    assert cells == ["tanh", "0.367", "24", "relu", "failed", tables.MISSING]
    assert not re.search(r">\s*(nan|inf|None)\s*<", text)


def test_cells_are_escaped_and_formatters_apply():
    df = pd.DataFrame({"word": ["<b>zog</b>"], "cosine": [0.91234]})
    text = tables.html_table(df, fmt={"cosine": lambda x: f"{x:.2f}"})
    assert "&lt;b&gt;zog&lt;/b&gt;" in text and ">0.91<" in text


def test_index_becomes_the_first_column():
    df = pd.DataFrame({"1-8": ["95%"], "9-16": ["60%"]}, index=pd.Index(["H=16"], name="arm"))
    text = tables.html_table(df, index=True)
    assert re.findall(r"<th>([^<]*)</th>", text) == ["arm", "1-8", "9-16"]


def app_tables(at) -> list[pd.DataFrame]:
    """Every lab table an AppTest run drew (st.html), read back as string frames."""
    out = []
    for e in at.get("html"):
        body = e.proto.body
        if 'class="lab-table"' not in body:
            continue
        head = [html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", body)]
        rows = [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
                for r in re.findall(r"<tr>(.*?)</tr>", body)[1:]]
        out.append(pd.DataFrame(rows, columns=head))
    return out


def test_a_page_draws_its_tables_as_lab_tables(lab_db):
    from test_app import PAGES, run_page

    at = run_page(PAGES["tbptt"])
    assert not at.exception and not at.dataframe  # no sideways-scrolling data grid left
    found = app_tables(at)
    by_condition = next(t for t in found if "verbs" in t.columns)
    assert list(by_condition.columns) == ["verbs", "seq_len=5", "seq_len=10", "seq_len=25",
                                          "seq_len=50"]
    assert all("%" in c for c in by_condition["seq_len=5"].iloc[:2])


@pytest.mark.parametrize("study_id", ["initialization", "tbptt", "activation", "clipping",
                                      "teacher_forcing", "grid"])
def test_no_table_cell_reads_inf_nan_or_none(lab_db, study_id):
    """Every table a study page draws, the verdict's seed spread included (a failed run's
    loss reads 'failed', a missing value a dash)."""
    from test_app import PAGES, run_page

    from lab.ui import nav
    full = dict(q.split("=") for q in nav.FULL_VIEW.get(study_id, "").split("&") if q)
    at = run_page(PAGES[study_id], **full)
    assert not at.exception
    found = app_tables(at)
    assert found
    for t in found:
        cells = {str(c).strip().lower() for c in t.to_numpy().ravel()}
        assert not cells & {"inf", "-inf", "nan", "none"}, (study_id, t)


def test_a_tiny_negative_never_reads_negative_zero():
    assert tables.fixed(3)(-0.0001) == "0.000" and tables.fixed(3)(-0.5) == "-0.500"
    assert tables.cell(-1e-9) == "-1e-09" and tables.cell(-0.0) == "0"
    assert tables.fixed(2)(float("inf")) == "failed" and tables.fixed(2)(None) == tables.MISSING
