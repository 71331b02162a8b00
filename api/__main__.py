"""`python -m api --host 127.0.0.1 --port 8000`: serve the API with uvicorn (OpenAPI docs at /docs)."""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from api.app import create_app


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    parser = argparse.ArgumentParser(prog="python -m api", description="RAG Workbench's OpenAI-compatible API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
