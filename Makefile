# The two README commands, and a few helpers.
.PHONY: run test bootstrap lint format contract bench worker beat

run:        ## set up and serve the embedded default with demo data and API docs
	scripts/run

test:       ## the whole test suite: SQLite pass, then PostgreSQL + Redis + Celery worker pass
	scripts/test

bootstrap:
	scripts/bootstrap

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

contract:   ## regenerate miniprogram_contract/ from the routes
	.venv/bin/flask --app wsgi export-contract

bench:
	.venv/bin/python bench/run.py

worker:
	.venv/bin/celery -A workers worker --loglevel=INFO

beat:
	.venv/bin/celery -A workers beat --loglevel=INFO
