# PixErase production on one host. `just up` builds the image and starts the app, its
# backends and the observability stack (the compose file's `grafana` profile).

compose := "docker compose -f docker-compose.prod.yaml --profile grafana"

# List the recipes.
default:
    @just --list

# Build and start everything: API on 127.0.0.1:8080, Grafana on 127.0.0.1:3000 (admin/admin, changed at first login).
up: _env
    {{compose}} up -d --build --remove-orphans

# Stop everything; the data volumes stay.
down:
    {{compose}} down

# Follow the logs (all services, or the ones named: just logs api worker).
logs *services:
    {{compose}} logs -f --tail=100 {{services}}

# Show the services and their health.
ps:
    {{compose}} ps

# Pull the pinned images again and recreate what changed.
pull: _env
    {{compose}} pull --ignore-buildable

# Check the compose file against .env (fails while a secret is unset).
config: _env
    {{compose}} config --quiet

# The deployment files' own tests: promtool, compose, dashboards, Vector's remap.
test-deploy:
    uv run pytest tests/deploy -q

_env:
    @test -f .env || { echo "no .env here: cp .env.dist .env, then set the passwords in it" >&2; exit 1; }
