# PixErase image: `pix-erase api`, `pix-erase worker`, `pix-erase migrate` (see
# docker-compose.prod.yaml). The locked dependencies are installed by uv from uv.lock.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /app

# Dependencies first, in their own layer: a code change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project --no-cache

COPY src ./src
RUN uv sync --locked --no-dev --no-editable --no-cache

RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent pixerase \
    && mkdir /data \
    && chown pixerase:pixerase /data

ENV PATH=/app/.venv/bin:$PATH \
    PIX_ERASE_DATA_DIR=/data

USER pixerase
EXPOSE 8080 8081

ENTRYPOINT ["pix-erase"]
CMD ["api"]
