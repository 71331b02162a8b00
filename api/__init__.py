"""The HTTP front end: OpenAI-compatible vector stores, files and search, plus the workbench's own upload and RAG,
over the same core operations as the pages and the command line. `python -m api` serves it with uvicorn."""

from api.app import create_app

__all__ = ["create_app"]
