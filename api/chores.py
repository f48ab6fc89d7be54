"""Open WebUI's background tasks (a chat title, tags, follow-up suggestions, search queries), answered
at once without the language model.

Open WebUI sends them to the chat's own model, and `seedqa` is the only model there is: answered
from the documents they would hold the one language model for seconds to a minute while the user's
next question waits, and be refused anyway (they are not questions about the documents). They are
recognised by the shape of Open WebUI's task prompts, which is stable across its versions: the
message begins with "### Task:" and asks for JSON in an "### Output:" section. The reply is that
JSON with nothing in it but a title made of the chat's first question.
"""

import json
import re

_TASK = re.compile(r"^\s*###\s*Task:", re.IGNORECASE)
_KEY = re.compile(r'"(\w+)"\s*:')
_FIRST_QUESTION = re.compile(r"^\s*USER:\s*(.+)$", re.MULTILINE)
TITLE_WORDS = 5  # Open WebUI asks for 3 to 5


def reply(message: str) -> str | None:
    """The JSON reply to an Open WebUI task prompt; None when `message` is not one (a question to answer)."""
    if not _TASK.match(message):
        return None
    _, _, output = message.partition("### Output:")
    key = _KEY.search(output.split("###", 1)[0]) if output else None
    if key is None:
        return "{}"
    if key.group(1) == "title":
        return json.dumps({"title": _title(message)}, ensure_ascii=False)
    if key.group(1) == "text":  # autocompletion: nothing to add
        return json.dumps({"text": ""})
    return json.dumps({key.group(1): []})  # tags, follow_ups, queries: none


def _title(message: str) -> str:
    asked = _FIRST_QUESTION.search(message.partition("<chat_history>")[2] or message)
    words = re.sub(r"[\[\]{}<>#*`]", " ", asked.group(1)).split() if asked else []
    title = " ".join(words[:TITLE_WORDS]).rstrip("?.!,;:")
    return title + ("…" if len(words) > TITLE_WORDS else "") if title else "Questions about the documents"
