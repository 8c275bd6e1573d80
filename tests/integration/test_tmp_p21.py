import runpy
def test_tmp(app):
    runpy.run_path("/tmp/p21/try_demo.py")["run"](app)
