# make run   - set up, index seeds/ and serve the web chat on http://127.0.0.1:7860
# make test  - set up and run the whole test suite
.PHONY: setup model index run test browser clean

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

browser:
	@./scripts/browser.sh

test: model browser
	@GRADIO_ANALYTICS_ENABLED=False $(VENV)/bin/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache test-output
