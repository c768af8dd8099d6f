"""WSGI entry point: `gunicorn wsgi:app`, and `flask --app wsgi ...` for the CLI."""

from api import create_app, settle_heap

app = create_app()
settle_heap()
