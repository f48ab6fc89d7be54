# make run   - set up, index seeds/ and serve the web chat on http://127.0.0.1:7860
# make test  - set up and run the whole test suite
# make bench - set up and run the speed benchmark (figures merged into docs/bench/results.json)
.PHONY: setup model index run test browser embed-server bench clean

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

# infinity-emb in .venv-embed: the real OpenAI-compatible embeddings server of the tests and `qa bench`
embed-server:
	@./scripts/embed-server.sh

test: model browser embed-server
	@GRADIO_ANALYTICS_ENABLED=False $(VENV)/bin/python -m pytest

clean:
	rm -rf $(VENV) .venv-embed .pytest_cache test-output
