# The two README commands, and a few helpers.
.PHONY: run test bootstrap lint format contract bench bench-setup bench-all bench-district worker worker-alerts worker-jobs beat

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

bench-setup: ## wrk, the load generator of bench/all.py (apt-get as root or with sudo)
	scripts/bench-setup

bench-all: bench-setup ## every scenario of the performance brief side by side with a bare Flask app
	.venv/bin/python bench/all.py

bench-district: bench-setup ## the same with lists and statistics over a district's data (1,000,000 incidents)
	.venv/bin/python bench/all.py --data district

worker:     ## one worker for every queue (one machine)
	.venv/bin/celery -A workers worker --loglevel=INFO

worker-alerts:  ## the alarm queue's own worker, as deployed
	.venv/bin/celery -A workers worker -Q alerts --pool threads --concurrency 16 --prefetch-multiplier 1 -n alerts@%h --loglevel=INFO

worker-jobs:    ## everything else: notifications, default, bulk
	.venv/bin/celery -A workers worker -Q notifications,default,bulk -n jobs@%h --loglevel=INFO

beat:
	.venv/bin/celery -A workers beat --loglevel=INFO
