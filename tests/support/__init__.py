"""What the tests share, never a test module: tiny configs and the tiny training run (tiny.py), the app
through AppTest (apptest.py), a real server and Chromium (browser.py), figures read back (figure_json.py,
heatmap_reader.py), sample inputs (heatmap_samples.py, hostile_markdown.py), the tiny Marian model
(marian.py) and the reliability figures (reliability_report.py). Imported as `tests.support.<module>`.
"""
