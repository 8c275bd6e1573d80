from tests.ui.conftest import run_page


def test_overview_renders(seeded):
    at = run_page()
    assert not at.exception
    print([m.label + "=" + m.value for m in at.metric])
    print([e.value for e in at.error])
