# Production image: one image, three roles (web, worker, beat) chosen by the compose command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The image fails closed: without DEBUG=true it refuses development secrets (backend/core/checks.py).
ENV DEBUG=false
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl gettext && rm -rf /var/lib/apt/lists/*
# Only what the service runs: test and development tools are in requirements-dev.lock.
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN DEBUG=true python manage.py collectstatic --noinput
# Patient pages in Spanish: the .po catalogues are committed, their compiled .mo files are built here.
RUN DEBUG=true python manage.py compilemessages
# var/metrics: the shared metrics volume's mount point, owned by the app's user.
RUN mkdir -p var/metrics && useradd --system --uid 1000 aftercare && chown -R aftercare /app
USER aftercare
EXPOSE 8000
CMD ["gunicorn", "backend.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "--logger-class", "backend.core.logging.RedactingGunicornLogger"]
