# make run   - set up, index seeds/ and serve the web chat on http://127.0.0.1:7860
# make check - the fast tests (about 2 minutes once set up): no language model, server or browser
# make test  - set up and run the whole test suite (CI)
# make bench - set up and run the speed benchmark (figures merged into docs/bench/results.json)
.PHONY: setup model index run check test test-open-webui open-webui browser inspector embed-server bench clean

VENV := .venv
QA := $(VENV)/bin/qa

setup:
	@./scripts/setup.sh

model: setup
	@$(QA) model

index: model
	@$(QA) index seeds

run: index
	@$(QA) ui

bench: model embed-server
	@$(QA) bench --out docs/bench/results.json $(BENCH_ARGS)

browser:
	@./scripts/browser.sh

# Open WebUI in .venv-webui (about 3 GB), then its browser test against `qa serve`
test-open-webui: model browser
	@./scripts/open-webui.sh
	@GRADIO_ANALYTICS_ENABLED=False $(VENV)/bin/python -m pytest -m openwebui $(PYTEST_ARGS)

# Open WebUI on http://127.0.0.1:8080 against the API of `qa serve` (run that first) on QA_API_URL
open-webui: model
	@./scripts/open-webui.sh serve 8080 $${QA_API_URL:-http://127.0.0.1:8000/v1}

# the MCP Inspector's CLI (npm), an independent MCP client for tests/test_mcp.py
inspector:
	@./scripts/inspector.sh

# infinity-emb in .venv-embed: the real OpenAI-compatible embeddings server of the tests and `qa bench`
embed-server:
	@./scripts/embed-server.sh

check: model
	@GRADIO_ANALYTICS_ENABLED=False $(VENV)/bin/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

test: model browser inspector embed-server
	@GRADIO_ANALYTICS_ENABLED=False $(VENV)/bin/python -m pytest -m "not openwebui"

clean:
	rm -rf $(VENV) .venv-embed .venv-webui .pytest_cache test-output
