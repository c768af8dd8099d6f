"""The bare route of `bench/all.py`: a hello-world Flask app, served by the same gunicorn settings and venv.

    gunicorn -c gunicorn.conf.py --pythonpath bench -w 2 bare:app

Every figure of the benchmark table is a share of this one's requests per second in the same run, so the
table says what the app costs above Flask + gunicorn on this machine, whatever the machine.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
