"""The "Through the years" studio page and dating sources: a creator dates a source, sees what a clone as of a year
would know (and what it leaves out), makes it, and opens it."""

from __future__ import annotations

from datetime import date

from streamlit.testing.v1 import AppTest

from clonr import Clonr
from tests.studio.test_api_usage_page import open_page, studio  # noqa: F401 (fixtures)


def test_a_creator_dates_a_source_and_makes_the_clone_as_of_a_year(app: Clonr, studio: AppTest) -> None:  # noqa: F811
    app.clones.create("Inês Duarte")
    porto = app.ingest.add_text("ines-duarte", "I live in Porto and teach ceramics.", "Porto").source
    app.ingest.add_text("ines-duarte", "My gas kiln is called Brasa.", "Kiln")
    studio.run()
    open_page(studio, "sources")
    studio.text_input(key=f"sources_when_{porto.id}").input("last summer")
    next(b for b in studio.button if b.label == "Save the date").click().run()
    assert "is not a date: write a year" in studio.error[0].value
    studio.text_input(key=f"sources_when_{porto.id}").input("2014")
    next(b for b in studio.button if b.label == "Save the date").click().run()
    assert not studio.exception and app.ingest.get_source("ines-duarte", porto.id).published == "2014"

    open_page(studio, "as_of")
    studio.text_input(key="as_of_when").input("2015").run()
    assert any("would know 1 source(s), 0 example dialogue(s) and 0 event(s)" in m.value for m in studio.markdown)
    assert "Undated, so left out: Kiln" in studio.warning[0].value
    studio.checkbox(key="as_of_describe").uncheck()
    next(b for b in studio.button if b.key == "as_of_make").click().run()
    assert not studio.exception and "Made Inês Duarte, 2015" in studio.success[0].value
    [variant] = app.clones.variants("ines-duarte")
    assert variant.as_of == date(2015, 12, 31)
    next(b for b in studio.button if b.label == "Open it").click().run()
    open_page(studio, "as_of")
    assert "is a clone as of 31 Dec 2015" in studio.info[0].value
