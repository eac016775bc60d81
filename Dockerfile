# The Stream-Sentinel image: the package and its one CLI, `stream-sentinel <command>`.
# docker-compose.yml runs the schema registry (and, as they land, the other services) from it.
FROM python:3.11-slim

# LightGBM needs the OpenMP runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY stream_sentinel ./stream_sentinel
RUN pip install --no-cache-dir .

RUN useradd --create-home sentinel
USER sentinel

ENTRYPOINT ["stream-sentinel"]
CMD ["--help"]
