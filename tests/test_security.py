"""Security of the web chat and the command: loopback by default, credentials beyond it, bounded uploads,
no file served from outside the documents, no secret in any output.

Covered elsewhere: refusing 0.0.0.0 without credentials (test_ui.py::test_refuses_to_bind_beyond_loopback_without_credentials).
"""

import logging
import shutil
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pydantic import SecretStr

import qa
from bench.servers import free_port
from qa.settings import Settings
from tests import stores
from tests.servers import garbage_server
from tests.stores import one_line_error

API_KEY = "sk-test-7f3a9c2e-never-print-me"
PASSWORD = "pw-4b1d-never-print-me"


def status(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def multipart(name: str, content: bytes) -> tuple[bytes, dict]:
    boundary = "----seedqa-test-boundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture(scope="module")
def app(tmp_path_factory, seed_settings):
    """The web chat, as `qa ui` serves it, on a copy of the seed store, with a 50 kB file limit."""
    from ui.app import serve

    store = tmp_path_factory.mktemp("security") / "store"
    shutil.copytree(seed_settings.store.dir, store)
    settings = seed_settings.with_(store={"dir": store, "max_file_bytes": 50_000}, web={"port": free_port()})
    served = serve(settings, block=False)
    yield settings, f"http://127.0.0.1:{settings.web.port}"
    served.close()


def test_default_binding_is_loopback_only(app):
    settings, _ = app
    assert Settings().web.host == "127.0.0.1"
    addresses = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
    addresses |= {ip for ip in _interface_addresses() if not ip.startswith("127.")}
    for address in addresses:
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((address, settings.web.port)) != 0, f"the chat answers on {address}"


def _interface_addresses() -> set[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            return {s.getsockname()[0]}
        except OSError:
            return set()


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "/../../../../etc/passwd",
        "%2Fetc%2Fpasswd",
        "../../../../../../etc/passwd",
        "{store}/chroma.sqlite3",
        "{store}/bm25/seed/CURRENT",
        "{root}/seeds/000_794d345c1f52b2db.txt",
        "{root}/pyproject.toml",
        "http://127.0.0.1:{port}/config",
        "file:///etc/passwd",
    ],
)
def test_no_file_outside_the_documents_is_served(app, path):
    settings, url = app
    root = Path(__file__).resolve().parents[1]
    path = path.format(store=settings.store.dir, root=root, port=settings.web.port)
    for prefix in ("/gradio_api/file=", "/file="):
        code, body = status(url + prefix + path)
        assert code in (400, 403, 404), (prefix + path, code, body[:200])
        assert b"root:" not in body and b"SQLite" not in body and b"Grushko" not in body


def test_upload_is_limited_in_size(app):
    _, url = app
    body, headers = multipart("big.txt", b"word " * 20_000)  # 100 kB, over the 50 kB limit
    code, said = status(url + "/gradio_api/upload", body, headers)
    assert code == 413, (code, said[:200])
    body, headers = multipart("small.txt", b"A small file.\n")
    assert status(url + "/gradio_api/upload", body, headers)[0] == 200


def test_upload_of_another_type_or_too_large_is_refused_with_the_reason(app, tmp_path):
    """What the upload handler does with what got through: named, not indexed, nothing stored changed."""
    from ui.app import Chat

    settings, _ = app
    (tmp_path / "tool.exe").write_bytes(b"MZ\x90\x00 not a document")
    (tmp_path / "big.txt").write_text("word " * 20_000)
    before = stores.snapshot(settings.store.dir, settings.store.collection)
    message, _ = Chat(settings).upload([str(tmp_path / "tool.exe"), str(tmp_path / "big.txt")], settings.store.collection)
    assert "tool.exe**: unsupported type" in message and "big.txt**: too large" in message, message
    assert stores.same(stores.snapshot(settings.store.dir, settings.store.collection), before)


def test_other_host_needs_credentials_and_checks_them(seed_settings, capfd):
    """127.0.0.2 is not in the loopback allow-list, so it is treated like any other address."""
    from qa import UserError
    from ui.app import serve

    other = seed_settings.with_(web={"host": "127.0.0.2", "port": free_port()})
    with pytest.raises(UserError, match="QA_WEB_AUTH_USER and QA_WEB_AUTH_PASSWORD"):
        serve(other, block=False)
    with pytest.raises(UserError, match="credentials"):
        serve(other.with_(web={"auth_user": "ann"}), block=False)  # a user without a password
    app = serve(other.with_(web={"auth_user": "ann", "auth_password": SecretStr(PASSWORD)}), block=False)
    try:
        url = f"http://127.0.0.2:{other.web.port}"
        for path in ("/config", "/gradio_api/info", "/gradio_api/file=/etc/passwd"):
            assert status(url + path)[0] in (401, 403), path
        body, headers = multipart("x.txt", b"x")
        assert status(url + "/gradio_api/upload", body, headers)[0] in (401, 403)
        from gradio_client import Client

        with pytest.raises(Exception):
            Client(url + "/", auth=("ann", "wrong"), verbose=False)
        client = Client(url + "/", auth=("ann", PASSWORD), verbose=False)
        assert client.view_api(print_info=False, return_format="dict")["named_endpoints"].keys() >= {"/ask"}
    finally:
        app.close()
    printed = capfd.readouterr()
    assert PASSWORD not in printed.out + printed.err


def test_cli_refuses_another_host_without_credentials(seed_settings):
    out = stores.run_qa("ui", "--host", "0.0.0.0", store_dir=seed_settings.store.dir, collection=seed_settings.store.collection)
    assert "credentials" in one_line_error(out)


def test_secrets_stay_out_of_settings_output():
    settings = Settings(llm={"base_url": "http://127.0.0.1:9/v1", "api_key": API_KEY}, web={"auth_user": "ann", "auth_password": PASSWORD})
    for text in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert API_KEY not in text and PASSWORD not in text


@pytest.mark.slow
def test_secrets_stay_out_of_logs_and_messages(seed_settings, caplog):
    caplog.set_level(logging.DEBUG)
    with garbage_server() as base_url:
        settings = seed_settings.with_(llm={"base_url": base_url, "mode": "openai", "api_key": SecretStr(API_KEY), "timeout": 5})
        answer = qa.ask("What guarantees does Russia demand?", settings=settings)
        env = {"QA_LLM_BASE_URL": base_url, "QA_LLM_API_KEY": API_KEY, "QA_WEB_AUTH_PASSWORD": PASSWORD, "QA_LLM_TIMEOUT": "5"}
        outs = [
            stores.run_qa(*args, store_dir=seed_settings.store.dir, collection=seed_settings.store.collection, **env)
            for args in (["ask", "What guarantees does Russia demand?"], ["ask", "What guarantees does Russia demand?", "--json"],
                         ["index", "seeds"], ["collections"], ["ui", "--host", "0.0.0.0"])
        ]  # fmt: skip
    assert answer.error and API_KEY not in answer.error
    assert outs[0].returncode == 1 and "did not answer" in outs[0].stderr  # the secret was in play
    logged = caplog.text + "".join(o.stdout + o.stderr for o in outs)
    assert API_KEY not in logged and PASSWORD not in logged
